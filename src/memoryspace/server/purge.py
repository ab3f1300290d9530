"""``POST /purge``: erase memories everywhere (see ``MemorySpace.purge``), for a key with the
``admin`` right, within the key's namespaces."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from memoryspace.access import Access
from memoryspace.access.namespaces import Right
from memoryspace.access.scoped import missing
from memoryspace.api.requests import MAX_LIST, Name, Request
from memoryspace.errors import Forbidden
from memoryspace.server.deps import Caller, Space
from memoryspace.server.errors import ERROR_RESPONSES
from memoryspace.space import MemorySpace
from memoryspace.store.erasure import PurgeReport

router = APIRouter(responses=ERROR_RESPONSES)


class PurgeIn(Request):
    """What to erase: ``ids`` (live or deleted earlier) and/or everything ever stored in a
    scope; ``dry_run`` lists the ids and erases nothing."""

    ids: list[Name] | None = Field(default=None, max_length=MAX_LIST)
    user: Name | None = None
    agent: Name | None = None
    session: Name | None = None
    dry_run: bool = False


class DroppedCheckpoint(BaseModel):
    name: str
    reason: str


class PurgeOut(BaseModel):
    """A ``PurgeReport``: what was erased, and where."""

    ids: list[str]
    records: int
    log_entries: int
    lsn: int
    checkpoints_rewritten: list[str]
    checkpoints_dropped: list[DroppedCheckpoint]
    files: list[str]
    embedding_cache_entries: int
    hot_tier_evicted: int
    wal_truncated: bool | None
    notes: list[str]

    @classmethod
    def of(cls, report: PurgeReport) -> PurgeOut:
        return cls.model_validate(report.to_dict())


@router.post("/purge", tags=["admin"])
def purge(body: PurgeIn, space: Space, access: Caller) -> PurgeOut:
    """Erase memories from the records, history, checkpoints, indexes, caches and the database's
    bytes; their log entries stay as tombstones and each gets a ``purge`` entry.

    Needs the ``admin`` right; a key restricted to namespaces may erase only inside them (an
    id outside them answers like a missing one).
    """
    access.require_right(Right.ADMIN)
    for id in body.ids or []:
        _check_visible(space, access, id)
    scope = {
        name: value
        for name, value in (("user", body.user), ("agent", body.agent), ("session", body.session))
        if value is not None
    }
    if scope:  # no selector at all is refused by the space, however narrow the key
        narrowed = access.narrow(scope)
        if narrowed is None:
            raise Forbidden(
                "this scope is outside the API key's namespaces; name a user or agent of them"
            )
        scope = narrowed
    actor = access.actor
    report = space.purge(
        body.ids,
        user=scope.get("user"),
        agent=scope.get("agent"),
        session=scope.get("session"),
        actor=actor,
        dry_run=body.dry_run,
    )
    return PurgeOut.of(report)


def _check_visible(space: MemorySpace, access: Access, id: str) -> None:
    """Raises ``NotFound`` for an id never stored or (for a restricted key) stored outside the
    key's namespaces, with the same message."""
    if access.unrestricted:
        return
    states = [c.after or c.before for c in space.history(id)]
    last = next((s for s in reversed(states) if s is not None), None)
    if last is None or not access.sees(last):
        raise missing(id)
