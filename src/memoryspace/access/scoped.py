"""``ScopedMemory``: a ``MemorySpace`` seen through an ``Access``.

Every call checks the access's rights and namespaces before it reaches the space, and every
answer is filtered again by namespace, so a restricted session never sees or changes a memory
outside its namespaces. A memory of another namespace answers exactly like a missing one
(``NotFound`` with the same message). The MCP tools are thin wrappers of these methods; the REST
server can use them with the ``Access`` its API key grants. ``missing(id)`` is that answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from memoryspace import validate
from memoryspace.access.namespaces import Access, Right
from memoryspace.context import AssembledContext
from memoryspace.errors import InvalidInput, NotFound
from memoryspace.models import Change, Memory, SearchHit
from memoryspace.space import MemorySpace


@dataclass(frozen=True, slots=True)
class TurnAdded:
    """What ``add_turn`` stored and the conversation's shape after it."""

    page: Memory
    stm_pages: int
    segments: int


EDITABLE = frozenset({"content", "kind", "tags", "importance"})
"""What ``ScopedMemory.edit`` may change: not the scope, which would move a memory between
namespaces."""


def missing(id: str) -> NotFound:
    """The one answer for an id that does not exist or is outside the session's namespaces."""
    return NotFound(f"no memory has id {id!r}; list or search the memories to find their ids")


class ScopedMemory:
    """The operations of the MCP tools (and REST routes) on ``space``, restricted to ``access``."""

    def __init__(self, space: MemorySpace, access: Access) -> None:
        self.space = space
        self.access = access

    def _named_scope(self, right: Right, user: str | None, agent: str | None) -> None:
        user, agent = validate.scope("user", user), validate.scope("agent", agent)
        self.access.require(right, user, agent)

    def get(self, id: str, right: Right = Right.READ) -> Memory:
        """The memory ``id`` if it is visible.

        Raises:
            NotFound: no such memory, or it is outside the namespaces.
            Unauthorized: the session lacks ``right``.
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
        fields: dict[str, Any] = {"kind": kind, "tags": list(tags), "pinned": pinned}
        if importance is not None:
            fields["importance"] = importance
        return self.space.add(content, user=user, agent=agent, session=session, **fields)

    def search(
        self,
        query: str,
        *,
        user: str | None,
        agent: str | None,
        k: int = 5,
        min_score: float | None = None,
        kind: str | None = None,
    ) -> list[SearchHit]:
        """The best hits of ``query`` in the scope, best first."""
        self._named_scope(Right.READ, user, agent)
        filters = _filters(user=user, agent=agent, kind=kind)
        hits = self.space.search(query, k=k, min_score=min_score, **filters)
        return [hit for hit in hits if self.access.sees(hit.memory)]

    def context(
        self,
        query: str,
        *,
        user: str | None,
        agent: str | None,
        budget: int = 1000,
        k: int = 20,
    ) -> AssembledContext:
        """A prompt-ready context of the scope's pinned memories and best hits."""
        self._named_scope(Right.READ, user, agent)
        # The facade filters search and pinned memories by exactly this scope, which the
        # check above put inside the namespaces.
        return self.space.context(query, budget=budget, k=k, **_filters(user=user, agent=agent))

    def scan(
        self,
        *,
        user: str | None,
        agent: str | None,
        kind: str | None = None,
        limit: int = 20,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[Memory]:
        """A page of the scope's memories."""
        self._named_scope(Right.READ, user, agent)
        found = self.space.scan(
            limit=limit,
            offset=offset,
            newest_first=newest_first,
            **_filters(user=user, agent=agent, kind=kind),
        )
        return [memory for memory in found if self.access.sees(memory)]

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
            self.space.delete([memory.id for memory in targets])
        return targets

    def set_pinned(self, id: str, pinned: bool) -> Memory:
        """Pin (or unpin) a visible memory; pinned memories are never evicted or collected."""
        pinned = validate.flag("pinned", pinned)
        memory = self.get(id, Right.WRITE)
        # Conditional on the version checked: a concurrent move to another namespace fails.
        return self.space.update(memory.id, pinned=pinned, if_version=memory.version)

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
        memory = self.get(id, Right.WRITE)
        return self.space.update(memory.id, if_version=memory.version, **fields)

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

    def add_turn(
        self,
        *,
        user: str,
        agent: str | None,
        user_text: str,
        agent_text: str = "",
        session: str | None = None,
    ) -> TurnAdded:
        """Add one exchange to ``user``'s conversation with ``agent`` (MemoryOS STM/MTM/LPM)."""
        self._named_scope(Right.WRITE, user, agent)
        talk = self.space.conversation(user=user, agent=agent)
        page = talk.add_turn(user_text, agent_text, session=session)
        talk.flush()
        return TurnAdded(page, len(talk.stm), len(talk.segments))

    def persona(self, *, user: str, agent: str | None = None) -> dict[str, Any]:
        """What the conversation of ``user`` (with ``agent``) learned about the user."""
        self._named_scope(Right.READ, user, agent)
        talk = self.space.conversation(user=user, agent=agent)
        persona = talk.persona()
        profile = talk.lpm.profile_record
        return {
            "user": user,
            "agent": agent,
            "profile": None if profile is None else profile.content,
            "persona": dataclasses.asdict(persona),
            "facts": [fact.content for fact in talk.lpm.fact_records],
        }


def _filters(**scope: str | None) -> dict[str, Any]:
    """The filters named (those not ``None``)."""
    return {name: value for name, value in scope.items() if value is not None}
