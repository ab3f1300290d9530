"""``memoryspace list``, ``count`` and ``update``: page through, count and edit memories."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from memoryspace.api import CountOut, MemoryOut
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
    scope_filters,
    when,
)
from memoryspace.errors import InvalidInput

browsing = typer.Typer()

Kinds = Annotated[list[str] | None, typer.Option("--kind", help="Only this kind (repeatable).")]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="Required tag (repeatable).")]
Pinned = Annotated[
    bool | None, typer.Option("--pinned/--unpinned", help="Only pinned (or unpinned) memories.")
]
Archived = Annotated[
    bool, typer.Option("--archived", help="Include memories garbage collection archived.")
]


def filters_of(
    user: str | None,
    agent: str | None,
    session: str | None,
    kind: list[str] | None,
    tag: list[str] | None,
    pinned: bool | None,
    archived: bool,
) -> dict[str, Any]:
    """The library filters the listing options ask for."""
    filters = scope_filters(user, agent, session)
    if kind:
        filters["kind"] = kind
    if tag:
        filters["tags"] = tag
    if pinned is not None:
        filters["pinned"] = pinned
    if archived:
        filters["include_archived"] = True
    return filters


@browsing.command("list")
def list_(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    limit: Annotated[int, typer.Option(help="At most this many (a page).")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many first.")] = 0,
    newest: Annotated[bool, typer.Option("--newest", help="Newest first.")] = False,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    kind: Kinds = None,
    tag: Tags = None,
    pinned: Pinned = None,
    archived: Archived = False,
    as_json: Json = False,
) -> None:
    """Memories in creation order (or newest first), a page at a time."""
    if limit < 1 or offset < 0:
        raise InvalidInput(f"--limit needs 1 or more and --offset 0 or more; got {limit}, {offset}")
    filters = filters_of(user, agent, session, kind, tag, pinned, archived)
    with opened(db, embedder) as ms:
        page = list(ms.scan(limit=limit, offset=offset, newest_first=newest, **filters))
        total = ms.count(**filters)
    if as_json:
        emit([MemoryOut.of(memory).to_json() for memory in page])
        return
    table = Table("id", "kind", "user", "session", "created", "pinned", "content")
    for memory in page:
        table.add_row(
            memory.id,
            str(memory.kind),
            memory.user or "-",
            memory.session or "-",
            when(memory.created_at),
            "yes" if memory.pinned else "",
            memory.content[:100],
        )
    console.print(table)
    shown = f"{offset + 1}-{offset + len(page)}" if page else "none"
    more = f"; next page: --offset {offset + limit}" if offset + len(page) < total else ""
    errors.print(f"showing {shown} of {total}{more}")


@browsing.command()
def count(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    kind: Kinds = None,
    tag: Tags = None,
    pinned: Pinned = None,
    archived: Archived = False,
    as_json: Json = False,
) -> None:
    """How many memories match the filters."""
    filters = filters_of(user, agent, session, kind, tag, pinned, archived)
    with opened(db, embedder) as ms:
        total = ms.count(**filters)
    emit(CountOut(count=total).to_json()) if as_json else console.print(str(total))


@browsing.command()
def update(
    id: str,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    content: Annotated[str | None, typer.Option(help="New content (re-embedded).")] = None,
    kind: Annotated[str | None, typer.Option(help="New kind: fact, note, ...")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Replace the tags (repeatable).")
    ] = None,
    clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove every tag.")] = False,
    importance: Annotated[float | None, typer.Option(help="New importance, 0 to 1.")] = None,
    pin: Annotated[
        bool | None, typer.Option("--pin/--unpin", help="Pin it (never collected) or unpin it.")
    ] = None,
    ttl: Annotated[float | None, typer.Option(help="Expire SECONDS from now.")] = None,
    as_json: Json = False,
) -> None:
    """Change fields of one memory; the change is logged (see `history ID`)."""
    if tag and clear_tags:
        raise InvalidInput("give --tag or --clear-tags, not both")
    fields: dict[str, Any] = {
        name: value
        for name, value in (
            ("content", content),
            ("kind", kind),
            ("tags", [] if clear_tags else tag),
            ("importance", importance),
            ("pinned", pin),
            ("ttl", ttl),
        )
        if value is not None
    }
    if not fields:
        raise InvalidInput(
            "nothing to change; give --content, --kind, --tag, --clear-tags, --importance, "
            "--pin/--unpin or --ttl"
        )
    with opened(db, embedder) as ms:
        memory = ms.update(id, **fields)
    if as_json:
        emit(MemoryOut.of(memory).to_json())
    else:
        console.print(f"updated {memory.id}: {', '.join(sorted(fields))}")
