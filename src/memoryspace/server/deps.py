"""What every route needs: the space, the caller's ``Access``, and reads that answer a record
outside the caller's namespaces exactly as a missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from memoryspace.errors import NotFound
from memoryspace.models import Change, Memory
from memoryspace.server.keys import Access, KeyRing
from memoryspace.space import MemorySpace


def get_space(request: Request) -> MemorySpace:
    space: MemorySpace = request.app.state.space
    return space


def get_access(request: Request) -> Access:
    """The caller's access: everything when the space has no keys (the server then listens on
    loopback only), else what the bearer token (or ``X-API-Key``) grants.

    Raises:
        Unauthorized: keys are configured and the token is missing or not valid.
    """
    ring: KeyRing = request.app.state.keys
    if not ring.configured():
        return Access.everything()
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    return ring.authenticate(token or request.headers.get("x-api-key"))


Space = Annotated[MemorySpace, Depends(get_space)]
Caller = Annotated[Access, Depends(get_access)]


def missing(id: str) -> NotFound:
    """The error for an id nobody may see: the store's own wording for a missing id."""
    return NotFound(f"no memory with id {id!r}; search or list memories to find ids")


def visible(space: MemorySpace, access: Access, id: str) -> Memory:
    """The memory ``id`` if the caller may see it.

    Raises:
        NotFound: it does not exist or lies outside the caller's namespaces (same message).
    """
    memory = space.get(id)
    if not access.sees(memory):
        raise missing(id)
    return memory


def visible_changes(access: Access, changes: list[Change]) -> list[Change]:
    """The log entries about memories the caller may see (before or after the change)."""
    if access.unrestricted:
        return changes
    return [
        c
        for c in changes
        if (c.before is not None and access.sees(c.before))
        or (c.after is not None and access.sees(c.after))
    ]


def feed_page(
    space: MemorySpace, access: Access, since: int, limit: int, *, scan: int = 1_000
) -> tuple[list[Change], int]:
    """Up to ``limit`` visible log entries after ``since``, and the LSN read up to (the next
    ``since``: entries the caller may not see are skipped, not re-read)."""
    out: list[Change] = []
    position = since
    while len(out) < limit:
        batch = space.changes(position, scan)
        if not batch:
            break
        for change in visible_changes(access, batch):
            out.append(change)
            if len(out) == limit:
                return out, change.lsn
        position = batch[-1].lsn
    return out, position
