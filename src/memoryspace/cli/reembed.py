"""``memoryspace reembed --embedder NAME``: give every memory a new embedder's vector."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from memoryspace.cli.common import DEFAULT_DB, Db, Json, console, emit, errors

reembedding = typer.Typer()


@reembedding.command("reembed")
def reembed(
    embedder: Annotated[
        str,
        typer.Option("--embedder", help="The new embedder: minilm, hashing or auto."),
    ],
    db: Db = DEFAULT_DB,
    batch: Annotated[int, typer.Option(help="Memories embedded and written per step.")] = 256,
    as_json: Json = False,
) -> None:
    """Re-embed every memory of --db with --embedder, then switch the database to it.

    Batched and logged; killed half-way, the same command resumes where it stopped. The old
    embedder need not be installed.
    """
    import dataclasses

    from memoryspace.embed.resolve import resolve_embedder
    from memoryspace.maintenance.reembed import reembed_file

    model = resolve_embedder(embedder)
    columns = (
        TextColumn(f"re-embedding {Path(db).name} with {model.model_id}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=errors, disable=as_json) as progress:
        task = progress.add_task("reembed", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = reembed_file(db, model, batch=batch, progress=advance)
    if as_json:
        emit(dataclasses.asdict(result))
        return
    resumed = f", {result.already_done:,} done by an earlier run" if result.resumed else ""
    console.print(
        f"re-embedded {result.reembedded:,} memories in {result.batches:,} batches{resumed}; "
        f"{db} now holds vectors of {result.model_id} (was {result.previous_model_id})"
    )
