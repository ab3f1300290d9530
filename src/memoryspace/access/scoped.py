"""``ScopedMemory``: a ``MemorySpace`` seen through an ``Access``.

Every call checks the access's rights and namespaces before it reaches the space, and every
answer is filtered again by namespace, so a restricted session never sees or changes a memory
outside its namespaces. A memory of another namespace answers exactly like a missing one
(``NotFound`` with the same message: ``missing(id)``). The REST routes and the MCP tools are
thin wrappers of these methods, with the ``Access`` their API key or token grants.

Two ways of naming a scope, one per kind of caller:

- the strict methods (``search``, ``scan``, ``add``, ...) refuse a scope outside the namespaces
  with ``Forbidden`` naming them, which tells a model it passed the wrong user (MCP);
- ``visible_filters`` and ``placed`` first narrow what a REST request asked for: a listing of
  another namespace is empty, as if nothing were there, and a session of one namespace may leave
  the scope out (it is filled in).

Structures (notes, reflection, reading, conversations) are in ``access.structures``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from memoryspace import validate
from memoryspace.access.namespaces import Access, Right
from memoryspace.access.structures import ScopedStructures, TurnAdded
from memoryspace.context import AssembledContext
from memoryspace.errors import InvalidInput, NotFound
from memoryspace.gc import GCEvent
from memoryspace.models import Change, Checkpoint, Kind, Memory, SearchHit
from memoryspace.space import MemorySpace

EDITABLE = frozenset({"content", "kind", "tags", "importance"})
"""What ``ScopedMemory.edit`` may change: not the scope, which would move a memory between
namespaces."""

__all__ = ["EDITABLE", "ScopedMemory", "TurnAdded", "missing"]

FEED_SCAN = 1_000
"""Log entries read per step of the change feed (entries of other namespaces are skipped)."""


def missing(id: str) -> NotFound:
    """The one answer for an id that does not exist or is outside the session's namespaces."""
    return NotFound(f"no memory has id {id!r}; list or search the memories to find their ids")


class ScopedMemory(ScopedStructures):
    """The operations of the REST routes and MCP tools on ``space``, restricted to ``access``."""

    def __init__(self, space: MemorySpace, access: Access) -> None:
        self.space = space
        self.access = access

    @property
    def actor(self) -> str | None:
        """What the log names as the author of this session's writes (``key:<id>``)."""
        return self.access.actor

    def _named_scope(self, right: Right, user: str | None, agent: str | None) -> None:
        user, agent = validate.scope("user", user), validate.scope("agent", agent)
        self.access.require(right, user, agent)

    def visible_filters(self, right: Right, filters: Mapping[str, Any]) -> dict[str, Any] | None:
        """``filters`` narrowed to the namespaces (see ``Access.narrow``) once ``right`` is
        checked; ``None``: they name a scope outside, so the answer is empty.

        Raises:
            Forbidden: the session lacks ``right``.
            InvalidInput: the session covers several namespaces and the filters name none.
        """
        self.access.require_right(right)
        return self.access.narrow(filters)

    def placed(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """A record to write, in the session's one namespace when it names no scope.

        Raises:
            Forbidden: the session lacks the write right, or the scope is outside.
            InvalidInput: no scope named and the session covers several namespaces.
        """
        self.access.require_right(Right.WRITE)
        return self.access.place(item)

    # Reads of single records

    def get(self, id: str, right: Right = Right.READ) -> Memory:
        """The memory ``id`` if it is visible.

        Raises:
            NotFound: no such memory, or it is outside the namespaces.
            Forbidden: the session lacks ``right``.
        """
        self.access.require_right(right)
        id = validate.memory_id(id)
        try:
            memory = self.space.get(id)
        except NotFound:
            raise missing(id) from None
        if not self.access.sees(memory):
            raise missing(id)
        return memory

    def history(self, id: str) -> list[Change]:
        """The logged changes of a memory, oldest first, leaving out those with a state outside
        the namespaces (a memory moved here from another user shows no earlier content).

        Raises:
            NotFound: no change of ``id`` is visible and the memory is not (it never existed,
                or it is elsewhere).
        """
        self.access.require_right(Right.READ)
        id = validate.memory_id(id)
        try:
            changes = self.space.history(id)
        except NotFound:
            raise missing(id) from None
        visible = [
            change
            for change in changes
            if all(
                state is None or self.access.sees(state) for state in (change.before, change.after)
            )
        ]
        if not visible:
            self.get(id)  # visible now (moved here from elsewhere): an empty history
        return visible

    # Writes

    def add(
        self,
        content: str,
        *,
        user: str | None,
        agent: str | None,
        session: str | None = None,
        kind: str = "fact",
        tags: Sequence[str] = (),
        importance: float | None = None,
        pinned: bool = False,
    ) -> Memory:
        """Store one memory in the scope ``user``/``agent``."""
        self._named_scope(Right.WRITE, user, agent)
        item: dict[str, Any] = {"content": content, "kind": kind, "tags": list(tags)}
        item.update(user=user, agent=agent, session=session, pinned=pinned)
        if importance is not None:
            item["importance"] = importance
        return self.space.add_many([item], actor=self.actor)[0]

    def add_many(
        self, items: Sequence[Mapping[str, Any]], *, dedupe: bool | None = None
    ) -> list[Memory]:
        """Store several memories in one transaction, all or nothing, each ``placed``."""
        placed = [self.placed(item) for item in items]
        return self.space.add_many(placed, actor=self.actor, dedupe=dedupe)

    def update(self, id: str, *, if_version: int | None = None, **fields: Any) -> Memory:
        """Patch the named fields of a visible memory; a new ``user``/``agent`` must stay
        inside the namespaces. Conditional on ``if_version`` if given, else on the version
        checked, so a concurrent move elsewhere fails instead of being overwritten.

        Raises:
            NotFound: no such memory, or it is outside the namespaces.
            Forbidden: the move would leave the namespaces.
            Conflict: it changed since ``if_version`` (or since the check).
        """
        memory = self.get(id, Right.WRITE)
        if "user" in fields or "agent" in fields:
            moved = {f: fields.get(f, getattr(memory, f)) for f in ("user", "agent")}
            self.access.place(moved)
        version = memory.version if if_version is None else if_version
        return self.space.update(memory.id, actor=self.actor, if_version=version, **fields)

    def edit(self, id: str, **fields: Any) -> Memory:
        """Change fields of a visible memory (``EDITABLE`` only: its scope stays put).

        Raises:
            InvalidInput: no field, or a field outside ``EDITABLE``.
            NotFound: no such memory, or it is outside the namespaces.
            Conflict: it changed between the check and the edit; read it again.
        """
        unknown = set(fields) - EDITABLE
        if unknown or not fields:
            raise InvalidInput(
                f"edit one or more of {sorted(EDITABLE)}; got {sorted(fields) or 'nothing'}"
            )
        return self.update(id, **fields)

    def set_pinned(self, id: str, pinned: bool) -> Memory:
        """Pin (or unpin) a visible memory; pinned memories are never evicted or collected."""
        return self.update(id, pinned=validate.flag("pinned", pinned))

    def delete(self, ids: Sequence[str]) -> list[Change]:
        """Delete visible memories by id, all or nothing.

        Raises:
            NotFound: an id is missing or outside the namespaces; nothing is deleted.
        """
        targets = [self.get(id, Right.WRITE).id for id in validate.ids(list(ids))]
        return self.space.delete(targets, actor=self.actor)

    def forget(
        self,
        *,
        ids: Sequence[str] = (),
        query: str | None = None,
        user: str | None = None,
        agent: str | None = None,
        k: int = 1,
        dry_run: bool = False,
    ) -> list[Memory]:
        """Delete memories by id (all or nothing) or the top ``k`` hits of ``query`` in the
        scope; ``dry_run`` returns what would be deleted and deletes nothing.

        Raises:
            InvalidInput: both or neither of ``ids`` and ``query``.
            NotFound: an id is missing or outside the namespaces; nothing is deleted.
        """
        dry_run = validate.flag("dry_run", dry_run)
        if bool(ids) == (query is not None):
            raise InvalidInput("forget_memory takes either ids or a query (with its scope)")
        if ids:
            targets = [self.get(id, Right.WRITE) for id in validate.ids(list(ids))]
        else:
            assert query is not None
            self._named_scope(Right.WRITE, user, agent)
            targets = [hit.memory for hit in self.search(query, user=user, agent=agent, k=k)]
        if targets and not dry_run:
            self.space.delete([memory.id for memory in targets], actor=self.actor)
        return targets

    def forget_matching(
        self,
        query: str | None,
        *,
        k: int = 1,
        all: bool = False,
        min_score: float | None = None,
        dry_run: bool = False,
        **filters: Any,
    ) -> list[str]:
        """``MemorySpace.forget`` in a named scope inside the namespaces: the top ``k`` hits of
        ``query`` or what the filters select; the ids deleted (or, ``dry_run``, that would be).
        """
        self._named_scope(Right.WRITE, filters.get("user"), filters.get("agent"))
        return self.space.forget(
            query,
            k=k,
            all=all,
            min_score=min_score,
            dry_run=dry_run,
            actor=self.actor,
            **filters,
        )

    # Reads of many records

    def search(
        self,
        query: str,
        *,
        user: str | None = None,
        agent: str | None = None,
        k: int = 5,
        min_score: float | None = None,
        kind: str | list[str] | None = None,
        **filters: Any,
    ) -> list[SearchHit]:
        """The best hits of ``query`` in the scope, best first (``filters``: the facade's,
        ``expand`` and ``touch`` too)."""
        self._named_scope(Right.READ, user, agent)
        scope = _filters(user=user, agent=agent, kind=kind)
        hits = self.space.search(query, k=k, min_score=min_score, **scope, **filters)
        return [hit for hit in hits if self.access.sees(hit.memory)]

    def context(
        self,
        query: str,
        *,
        user: str | None = None,
        agent: str | None = None,
        budget: int = 1000,
        k: int = 20,
        **options: Any,
    ) -> AssembledContext:
        """A prompt-ready context of the scope's pinned memories and best hits (``options``:
        ``min_score``, ``format`` and filters, as ``MemorySpace.context`` takes)."""
        self._named_scope(Right.READ, user, agent)
        # The facade filters search and pinned memories by exactly this scope, which the
        # check above put inside the namespaces.
        scope = _filters(user=user, agent=agent)
        return self.space.context(query, budget=budget, k=k, **scope, **options)

    def scan(
        self,
        *,
        user: str | None = None,
        agent: str | None = None,
        kind: str | list[str] | None = None,
        limit: int = 20,
        offset: int = 0,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[Memory]:
        """A page of the scope's memories."""
        self._named_scope(Right.READ, user, agent)
        found = self.space.scan(
            limit=limit,
            offset=offset,
            newest_first=newest_first,
            **_filters(user=user, agent=agent, kind=kind),
            **filters,
        )
        return [memory for memory in found if self.access.sees(memory)]

    def count(self, **filters: Any) -> int:
        """How many memories of the named scope match ``filters``."""
        self._named_scope(Right.READ, filters.get("user"), filters.get("agent"))
        return self.space.count(**filters)

    def stats(self, *, user: str | None = None, agent: str | None = None) -> dict[str, Any]:
        """``MemorySpace.stats()`` for an unrestricted session asking for no scope; otherwise
        the counts of the scope's memories only (and the space's LSN).

        Raises:
            InvalidInput: several namespaces and no scope named.
        """
        space = self.space
        scope = _filters(user=user, agent=agent)
        if self.access.unrestricted and not scope:
            self.access.require_right(Right.READ)
            return space.stats()
        filters = self.visible_filters(Right.READ, scope)
        if filters is None:
            return {"memories": 0, "by_kind": {}, "pinned": 0, "archived": 0, "lsn": space.lsn}
        every = {**filters, "include_archived": True, "include_expired": True}
        by_kind: dict[str, int] = {}
        for kind in Kind:
            n = space.count(kind=kind.value, **every)
            if n:
                by_kind[kind.value] = n
        total = sum(by_kind.values())
        return {
            "memories": total,
            "by_kind": by_kind,
            "pinned": space.count(pinned=True, **every),
            "archived": total - space.count(**{**filters, "include_expired": True}),
            "lsn": space.lsn,
        }

    # The log

    @property
    def lsn(self) -> int:
        """The LSN of the last committed change (needs the read right)."""
        self.access.require_right(Right.READ)
        return self.space.lsn

    def visible_changes(self, changes: Sequence[Change]) -> list[Change]:
        """The log entries about memories the session may see (before or after the change)."""
        if self.access.unrestricted:
            return list(changes)
        sees = self.access.sees
        return [
            c
            for c in changes
            if (c.before is not None and sees(c.before)) or (c.after is not None and sees(c.after))
        ]

    def changes(self, since: int, limit: int) -> tuple[list[Change], int]:
        """Up to ``limit`` visible log entries after ``since``, and the LSN read up to (the
        next ``since``: entries of other namespaces are skipped, not read again)."""
        self.access.require_right(Right.READ)
        out: list[Change] = []
        position = since
        while len(out) < limit:
            batch = self.space.changes(position, FEED_SCAN)
            if not batch:
                break
            for change in self.visible_changes(batch):
                out.append(change)
                if len(out) == limit:
                    return out, change.lsn
            position = batch[-1].lsn
        return out, position

    @contextmanager
    def as_of(self, lsn: int) -> Iterator[ScopedMemory]:
        """This session over the read-only space as it was right after ``lsn``."""
        self.access.require_right(Right.READ)
        with self.space.as_of(lsn) as past:
            yield ScopedMemory(past, self.access)

    # The whole space (admin with namespace '*')

    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        self.access.require_whole_space(Right.ADMIN)
        return self.space.checkpoint(name, overwrite=overwrite)

    def checkpoints(self) -> list[Checkpoint]:
        self.access.require_whole_space(Right.ADMIN)
        return self.space.checkpoints()

    def restore(self, name: str | None, *, to_lsn: int | None = None) -> list[Change]:
        self.access.require_whole_space(Right.ADMIN)
        return self.space.restore(name, to_lsn=to_lsn, actor=self.actor)

    def gc(self, collector: str, *, dry_run: bool = False, **options: Any) -> GCEvent:
        self.access.require_whole_space(Right.ADMIN)
        return self.space.gc(collector, dry_run=dry_run, **options)


def _filters(**scope: object) -> dict[str, Any]:
    """The filters named (those not ``None``)."""
    return {name: value for name, value in scope.items() if value is not None}
