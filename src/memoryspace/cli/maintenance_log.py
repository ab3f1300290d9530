"""``memoryspace compact-log`` and ``memoryspace vacuum``: keep the database small."""

from __future__ import annotations

from typing import Annotated

import typer

from memoryspace.cli.common import DEFAULT_DB, Db, Embedder, Json, console, emit, opened

log_care = typer.Typer()


@log_care.command("compact-log")
def compact_log(
    keep_after: Annotated[
        str,
        typer.Option(
            "--keep-after",
            help="A checkpoint name, or an LSN with a checkpoint at or after it: the log's "
            "entries up to it are dropped.",
        ),
    ],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Drop the op log's entries up to a checkpoint; time travel before it then says why it
    cannot. Run `vacuum` afterwards to shrink the file."""
    point: str | int = int(keep_after) if keep_after.isdigit() else keep_after
    with opened(db, embedder) as ms:
        result = ms.compact_log(point)
    if as_json:
        emit(result.to_dict())
        return
    console.print(
        f"dropped {result.dropped:,} log entries up to LSN {result.horizon} (the state there "
        f"is checkpoint {result.checkpoint!r}); {result.kept:,} kept, {result.rewritten:,} "
        "rewritten as full states. Run `memoryspace vacuum` to shrink the file."
    )


@log_care.command("vacuum")
def vacuum(db: Db = DEFAULT_DB, embedder: Embedder = "auto", as_json: Json = False) -> None:
    """Give the space freed by deletes and compact-log back to the file system."""
    with opened(db, embedder) as ms:
        result = ms.vacuum()
    if as_json:
        emit(result.to_dict())
        return
    console.print(
        f"{result.bytes_before:,} bytes before, {result.bytes_after:,} after: "
        f"{result.reclaimed:,} reclaimed"
    )
