"""What the command modules share: the consoles, the options most commands take (``--db``,
``--embedder``, ``--json``, the scopes), opening a space, and printing memories, search hits,
changes and errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from memoryspace.cli.figures import rounded
from memoryspace.cli.hints import cli_message
from memoryspace.errors import MemorySpaceError
from memoryspace.models import Change, Memory, SearchHit
from memoryspace.space import MemorySpace

console = Console()
errors = Console(stderr=True)

# A str, not a Path: a Path would fold the "//" of postgresql:// and sqlite:/// URLs.
Db = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="MEMORYSPACE_DB",
        help="Database file, or URL (sqlite:///file.db, postgresql://...).",
        show_default=True,
    ),
]
Embedder = Annotated[
    str,
    typer.Option("--embedder", envvar="MEMORYSPACE_EMBEDDER", help="auto, minilm or hashing."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
User = Annotated[str | None, typer.Option(help="Scope: user.")]
Agent = Annotated[str | None, typer.Option(help="Scope: agent.")]
Session = Annotated[str | None, typer.Option(help="Scope: session.")]
MinScore = Annotated[
    float | None,
    typer.Option("--min-score", help="Relevance from 0 to 1 a hit needs [default: 0.1]."),
]
DEFAULT_DB = "memoryspace.db"


@contextmanager
def opened(db: str, embedder: str = "auto", *, create: bool = False) -> Iterator[MemorySpace]:
    """The space at ``db``; a missing database is created only with ``create``."""
    with MemorySpace.open(db, embedder=embedder, create=create) as ms:
        yield ms


def emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def scope_filters(user: str | None, agent: str | None, session: str | None) -> dict[str, Any]:
    return {k: v for k, v in (("user", user), ("agent", agent), ("session", session)) if v}


def show_memory(memory: Memory) -> None:
    table = Table(show_header=False, box=None)
    for name, value in memory.to_dict().items():
        if name in (
            "created_at",
            "updated_at",
            "valid_from",
            "valid_to",
            "expires_at",
            "last_access",
        ):
            value = when(value)
        table.add_row(f"[bold]{name}[/]", str(rounded(value)))
    console.print(table)


def show_hits(hits: list[SearchHit]) -> None:
    table = Table("#", "score", "dense", "bm25", "when", "id", "content")
    for rank, hit in enumerate(hits, 1):
        parts = hit.parts
        dense = "-" if parts.dense is None else f"{parts.dense:.3f} (#{parts.dense_rank})"
        sparse = "-" if parts.sparse is None else f"{parts.sparse:.2f} (#{parts.sparse_rank})"
        table.add_row(
            str(rank),
            f"{hit.score:.4f}",
            dense,
            sparse,
            when(hit.memory.created_at),
            hit.memory.id,
            hit.memory.content[:120],
        )
    console.print(table)


def show_changes(changes: list[Change]) -> None:
    table = Table("lsn", "time", "op", "id", "actor", "content")
    for change in changes:
        state = change.after or change.before
        table.add_row(
            str(change.lsn),
            when(change.time),
            str(change.op),
            change.id,
            change.actor or "-",
            state.content[:100] if state else "",
        )
    console.print(table)


def report_error(exc: MemorySpaceError, *, as_json: bool) -> None:
    """One error, its hint in CLI terms: a JSON document on stdout, or a line on stderr."""
    message = cli_message(str(exc))
    if as_json:
        emit({"error": {"type": type(exc).__name__, "message": message}})
    else:
        line = Text.assemble(("error:", "red"), f" {type(exc).__name__}: {message}")
        errors.print(line, soft_wrap=True)  # one line, however narrow the terminal
