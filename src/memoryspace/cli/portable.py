"""``memoryspace export-checkpoint NAME FILE`` and ``import-checkpoint FILE``: a checkpoint
carried between databases and backends (see ``memoryspace.store.portable``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoryspace.cli.common import DEFAULT_DB, Db, Embedder, Json, console, emit, opened

portability = typer.Typer()


@portability.command("export-checkpoint")
def export_checkpoint(
    name: Annotated[str, typer.Argument(help="The checkpoint to export.")],
    file: Annotated[Path, typer.Argument(help="Where to write it (gzip JSON lines).")],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Write a checkpoint's records, vectors and settings to a file any backend imports."""
    with opened(db, embedder) as ms:
        done = ms.export_checkpoint(name, file)
    if as_json:
        emit({"name": done.name, "lsn": done.lsn, "records": len(done.records), "file": str(file)})
    else:
        console.print(
            f"exported {done.name} (LSN {done.lsn}, {len(done.records)} records) to {file}"
        )


@portability.command("import-checkpoint")
def import_checkpoint(
    file: Annotated[Path, typer.Argument(help="A file written by export-checkpoint.")],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Make a database's state equal to an exported checkpoint's, as logged changes (undo with
    `restore --to-lsn`); the database is created if missing."""
    with opened(db, embedder, create=True) as ms:
        applied = ms.import_checkpoint(file)
        lsn = ms.lsn
    if as_json:
        emit({"changes": len(applied), "lsn": lsn})
    else:
        console.print(f"imported with {len(applied)} changes; now at LSN {lsn}")
