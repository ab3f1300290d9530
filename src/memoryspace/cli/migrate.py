"""``memoryspace migrate --from URL --to URL``: copy a database to another backend."""

from __future__ import annotations

from typing import Annotated, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from memoryspace.cli.common import Json, console, emit
from memoryspace.errors import Conflict
from memoryspace.store.locate import open_store
from memoryspace.store.migrate import Replayable, migrate

migration = typer.Typer()


@migration.command("migrate")
def migrate_command(
    source: Annotated[str, typer.Option("--from", help="The database to copy: a path or a URL.")],
    target: Annotated[
        str,
        typer.Option("--to", help="Where to copy it (empty, or a copy to continue): path or URL."),
    ],
    batch: Annotated[int, typer.Option(help="Log entries per transaction.", min=1)] = 1000,
    as_json: Json = False,
) -> None:
    """Copy a database (sqlite:///a.db, postgresql://...) to another by replaying its log;
    resumable, and verified by comparing ids, content hashes and the history."""
    origin = open_store(source, create=False)
    try:
        copy = open_store(target, create=True)
        try:
            with Progress(
                TextColumn("migrating"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                disable=as_json,
            ) as bar:
                task = bar.add_task("log", total=None)
                result = migrate(
                    _replayable(origin),
                    _replayable(copy),
                    batch=batch,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            copy.close()
    finally:
        origin.close()
    if as_json:
        emit(
            {
                "copied": result.copied,
                "resumed_at": result.resumed_at,
                "lsn": result.lsn,
                "memories": result.memories,
                "differences": list(result.differences),
            }
        )
    else:
        console.print(
            f"copied {result.copied} log entries (from LSN {result.resumed_at} to "
            f"{result.lsn}); {result.memories} memories"
        )
    if result.differences:
        raise Conflict("the copy differs from the source: " + "; ".join(result.differences))
    if not as_json:
        console.print("verified: same ids, content, vectors and history")


def _replayable(store: object) -> Replayable:
    if not callable(getattr(store, "replay", None)) or not callable(
        getattr(store, "log_rows", None)
    ):
        raise Conflict(f"{type(store).__name__} cannot replay a log; migrate between databases")
    return cast(Replayable, store)
