"""``memoryspace bench prompt-budget``: is a LoCoMo question's evidence inside the prompt?"""

from __future__ import annotations

from typing import Annotated

import typer

from memoryspace.cli.bench_common import (
    AsJson,
    BenchEmbedder,
    Data,
    Out,
    emit_doc,
    ints,
    progress_bars,
    table_console,
)
from memoryspace.cli.common import errors

prompt_budget_bench = typer.Typer()  # added to `memoryspace bench`


@prompt_budget_bench.command("prompt-budget")
def prompt_budget(
    data: Data,
    conversations: Annotated[
        list[str] | None,
        typer.Option("--conversations", help="sample_id(s) to run, e.g. conv-26 (repeatable)."),
    ] = None,
    budgets: Annotated[str, typer.Option(help="Token budgets, comma-separated.")] = "120,250,500",
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Share of questions whose evidence turn is in conversation().prompt(budget=B), beside
    flat context(budget=B)."""
    from memoryspace.bench import prompt_budget as bench_module
    from memoryspace.bench.report import print_table
    from memoryspace.datasets.locomo import load_locomo, select_conversations
    from memoryspace.embed.resolve import resolve_embedder

    wanted = [c.strip() for item in conversations or [] for c in item.split(",") if c.strip()]
    chosen = select_conversations(load_locomo(data), wanted)
    model = resolve_embedder(embedder)
    with progress_bars(as_json) as progress:
        doc = bench_module.run(
            chosen, budgets=ints(budgets, "--budgets", 1), embedder=model, progress=progress
        )
    written = bench_module.write_outputs(doc, out) if out is not None else []
    if as_json:
        emit_doc(doc)
        return
    title = (
        f"LoCoMo evidence in the prompt ({doc['questions']} questions, {doc['embedder']}, "
        f"{doc['seconds']} s)"
    )
    print_table(title, doc["rows"], table_console())
    for path in written:
        errors.print(f"wrote {path}")
