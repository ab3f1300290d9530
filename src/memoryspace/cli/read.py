"""``memoryspace read FILE``: read a file of any length through a fixed-size memory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from memoryspace.cli.common import DEFAULT_DB, Db, Embedder, Json, console, emit, errors
from memoryspace.space import MemorySpace

reading = typer.Typer()


@reading.command("read")
def read(
    file: Annotated[Path, typer.Argument(help="The file to read ('-' reads standard input).")],
    question: Annotated[
        str | None, typer.Option("--question", "-q", help="Keep what answers this.")
    ] = None,
    chunk_tokens: Annotated[int, typer.Option(help="Tokens per chunk read.")] = 2048,
    memory_tokens: Annotated[int, typer.Option(help="Tokens of the memory.")] = 1024,
    policy: Annotated[
        str, typer.Option(help="offline, or llm (needs MEMORYSPACE_LLM_URL and _MODEL).")
    ] = "offline",
    store: Annotated[
        bool, typer.Option("--store", help="Save the final memory in --db, linked to the file.")
    ] = False,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Stream FILE in chunks, overwriting a fixed-size memory after each (MemAgent); print the
    memory, where each sentence came from, and what the read cost."""
    source: object = sys.stdin if str(file) == "-" else file
    columns = (
        TextColumn("reading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with (
        MemorySpace.open(db if store else ":memory:", embedder=embedder) as ms,
        Progress(*columns, console=errors, disable=as_json) as progress,
    ):
        task = progress.add_task(file.name or "stdin", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        reading = ms.read(
            source,
            question,
            chunk_tokens=chunk_tokens,
            memory_tokens=memory_tokens,
            policy=policy,
            store=store,
            progress=advance,
        )
    if as_json:
        emit(reading.to_dict())
        return
    table = Table("chunk", "offset", "tokens", "text", title="Memory")
    for sentence in reading.kept:
        offset = "written" if sentence.offset is None else f"{sentence.offset:,}"
        table.add_row(str(sentence.chunk), offset, str(sentence.tokens), sentence.text)
    console.print(table)
    totals = reading.totals()
    console.print(
        f"read {totals['tokens_read']:,} tokens in {totals['chunks']} chunks "
        f"({totals['ms_per_1k_tokens']:.1f} ms per 1k tokens), kept {totals['kept']} sentences "
        f"({totals['memory_tokens']} of {memory_tokens} tokens), policy {reading.policy}, "
        f"{totals['fallbacks']} fallback(s), {totals['repairs']} repair(s)"
    )
    if reading.records:
        console.print(f"stored {len(reading.records)} records in {db}")
