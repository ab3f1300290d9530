"""``memoryspace cache ...``: where the rebuildable cache lives, and clearing it."""

from __future__ import annotations

import typer
from rich.table import Table

from memoryspace.cachedir import cache_dir, cache_files, clear_cache
from memoryspace.cli.common import Json, console, emit

cache = typer.Typer(
    help="The cache under $MEMORYSPACE_CACHE or ~/.cache/memoryspace (ONNX graph, embeddings).",
    no_args_is_help=True,
)


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


@cache.command("info")
def info(as_json: Json = False) -> None:
    """Where the cache is and what it holds."""
    files = cache_files()
    if as_json:
        emit(
            {
                "path": str(cache_dir()),
                "files": [{"path": str(f.path), "bytes": f.bytes, "what": f.what} for f in files],
                "bytes": sum(f.bytes for f in files),
            }
        )
        return
    table = Table("file", "size", "what", title=str(cache_dir()), title_justify="left")
    for entry in files:
        table.add_row(entry.path.name, megabytes(entry.bytes), entry.what)
    console.print(table)
    console.print(f"{len(files)} files, {megabytes(sum(f.bytes for f in files))}")


@cache.command("clear")
def clear(as_json: Json = False) -> None:
    """Delete the cached ONNX graph and embeddings; the next use rebuilds what it needs."""
    removed = clear_cache()
    freed = sum(f.bytes for f in removed)
    if as_json:
        emit({"path": str(cache_dir()), "removed": [str(f.path) for f in removed], "bytes": freed})
    else:
        console.print(f"removed {len(removed)} files ({megabytes(freed)}) from {cache_dir()}")
