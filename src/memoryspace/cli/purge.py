"""``memoryspace purge``: erase memories everywhere (records, history, checkpoints, indexes,
caches, the database's free pages and WAL), after showing what will go and asking."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from memoryspace.cli.common import (
    DEFAULT_DB,
    Agent,
    Db,
    Embedder,
    Json,
    Session,
    User,
    console,
    emit,
    errors,
    opened,
)
from memoryspace.errors import InvalidInput
from memoryspace.space import MemorySpace

purging = typer.Typer()


@purging.command("purge")
def purge(
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="A memory to erase (repeat for more).")
    ] = None,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Erase without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
    as_json: Json = False,
) -> None:
    """Erase memories for good: unlike `forget`, nothing of them stays in the history,
    checkpoints, indexes, caches or the database's bytes (their log entries stay as
    tombstones). --user / --agent / --session erase everything ever stored in that scope,
    deleted memories too. Shows what will be erased and asks, unless --yes.
    """
    if not ids and (user, agent, session) == (None, None, None):
        raise InvalidInput(
            "purge needs --id ID (repeatable) or a scope: --user, --agent or --session; "
            "it never erases the whole database"
        )
    with opened(db, embedder) as ms:
        planned = ms.purge(ids or None, user=user, agent=agent, session=session, dry_run=True)
        if dry_run or not planned.ids:
            if as_json:
                emit({"would_erase": list(planned.ids)})
            else:
                if planned.ids:
                    console.print(_plan(ms, planned.ids))
                console.print(f"would erase {len(planned.ids)} memories (nothing erased)")
            return
        if not yes:
            _confirm(ms, planned.ids, as_json)
        report = ms.purge(list(planned.ids), actor="cli:purge")
    if as_json:
        emit(report.to_dict())
        return
    dropped = "".join(
        f"\ncheckpoint {name} dropped: {reason}" for name, reason in report.checkpoints_dropped
    )
    notes = "".join(f"\nnote: {note}" for note in report.notes)
    console.print(
        f"erased {len(report.ids)} memories ({report.records} live), {report.log_entries} log "
        f"entries tombstoned, {len(report.checkpoints_rewritten)} checkpoints rewritten, "
        f"{report.embedding_cache_entries} cached embeddings removed{dropped}{notes}"
    )


def _plan(ms: MemorySpace, ids: tuple[str, ...]) -> Table:
    """What will be erased: each memory's scope, whether it is live, and its last content."""
    table = Table("id", "user", "state", "content", title="to erase")
    live = {m.id for m in ms.get_many(list(ids))}
    for id in ids:
        states = [c.after or c.before for c in ms.history(id)]
        last = next((s for s in reversed(states) if s is not None), None)
        table.add_row(
            id,
            last.user or "-" if last is not None else "-",
            "live" if id in live else "deleted",
            last.content[:100] if last is not None else "",
        )
    return table


def _confirm(ms: MemorySpace, ids: tuple[str, ...], as_json: bool) -> None:
    """Show the plan and ask; refuse when nobody can answer.

    Raises:
        InvalidInput: stdin is not a terminal (a script or a pipe); nothing is erased.
        typer.Exit: the user said no (exit status 1; nothing is erased).
    """
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"refusing to erase {len(ids)} memories without confirmation: stdin is not a "
            "terminal; pass --yes to erase them, or --dry-run to list them"
        )
    out: Console = errors if as_json else console
    out.print(_plan(ms, ids))
    question = f"Erase these {len(ids)} memories everywhere? This cannot be undone."
    if not typer.confirm(question, default=False, err=as_json):
        errors.print("nothing erased")
        raise typer.Exit(1)
