"""The agent structures through an ``Access``: conversations, linked notes, reflection and
reading, as ``ScopedMemory`` offers them (this is its base class).

Rights, decided once for every shell:

- conversations and notes: ``read`` to recall, ``write`` to add or link, in a scope inside the
  namespaces; a note links only to memories the session sees, and a note's links to memories
  it does not see show as gone (``None``), as a missing one would;
- reflection: over a named scope, ``read`` for a dry run (the plan) and ``write`` to apply it
  (it only merges, closes, archives or re-scores that scope's memories, each change logged and
  undoable: what the session could do by hand); over the whole space (no scope), the ``*``
  namespace, and ``admin`` to apply;
- reading: ``read`` (nothing is stored), or ``write`` in the scope with ``store=True``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from memoryspace import validate
from memoryspace.access.namespaces import Access, Right
from memoryspace.conversation import Conversation
from memoryspace.errors import InvalidInput
from memoryspace.models import Change, Link, Memory, SearchHit
from memoryspace.notes.notes import SEARCH_EXPAND, NoteView
from memoryspace.reader.reading import Reading
from memoryspace.reflect.job import Reflection
from memoryspace.space import MemorySpace

MAX_READ_CHARS = 1_000_000
"""The longest text a session may have read at once (a request holds it whole)."""


@dataclass(frozen=True, slots=True)
class TurnAdded:
    """What ``add_turn`` stored and the conversation's shape after it."""

    page: Memory
    stm_pages: int
    segments: int


class ScopedStructures:
    """Conversations, notes, reflection and reading restricted to ``access``."""

    space: MemorySpace
    access: Access

    if TYPE_CHECKING:

        @property
        def actor(self) -> str | None: ...
        def _named_scope(self, right: Right, user: str | None, agent: str | None) -> None: ...
        def get(self, id: str, right: Right = Right.READ) -> Memory: ...
        def history(self, id: str) -> list[Change]: ...
        def placed(self, item: Mapping[str, Any]) -> dict[str, Any]: ...

    # Conversations (MemoryOS)

    def conversation(self, right: Right, *, user: str, agent: str | None) -> Conversation:
        """The conversation of ``user`` (with ``agent``), if the scope is inside the namespaces.

        Raises:
            Forbidden: the right is missing or the scope is outside.
        """
        self._named_scope(right, user, agent)
        return self.space.conversation(user=user, agent=agent)

    def add_turn(
        self,
        *,
        user: str,
        agent: str | None,
        user_text: str,
        agent_text: str = "",
        session: str | None = None,
        timestamp: float | None = None,
    ) -> TurnAdded:
        """Add one exchange to ``user``'s conversation with ``agent`` (MemoryOS STM/MTM/LPM)."""
        talk = self.conversation(Right.WRITE, user=user, agent=agent)
        page = talk.add_turn(user_text, agent_text, timestamp, session=session)
        talk.flush()
        return TurnAdded(page, len(talk.stm), len(talk.segments))

    def persona(self, *, user: str, agent: str | None = None) -> dict[str, Any]:
        """What the conversation of ``user`` (with ``agent``) learned about the user."""
        talk = self.conversation(Right.READ, user=user, agent=agent)
        persona = talk.persona()
        profile = talk.lpm.profile_record
        return {
            "user": user,
            "agent": agent,
            "profile": None if profile is None else profile.content,
            "persona": dataclasses.asdict(persona),
            "facts": [fact.content for fact in talk.lpm.fact_records],
        }

    # Linked notes (A-MEM)

    def add_note(
        self,
        content: str,
        *,
        user: str | None,
        agent: str | None,
        links: Sequence[str | Mapping[str, Any]] = (),
        tags: Sequence[str] = (),
        **fields: Any,
    ) -> Memory:
        """Add a note to the scope, linked to its neighbours there and to ``links`` (ids the
        session sees); ``fields``: ``session``, ``importance``, ``pinned``, ... as ``add``.

        Raises:
            NotFound: a linked id is missing or outside the namespaces.
        """
        self._named_scope(Right.WRITE, user, agent)
        for link in links:
            self.get(_link_id(link))
        notes = self.space.notes(user=user, agent=agent)
        return notes.add(content, links=links, tags=tags, **fields)

    def search_notes(
        self,
        query: str,
        *,
        user: str | None,
        agent: str | None,
        k: int = 10,
        expand: int = SEARCH_EXPAND,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """The best notes of the scope, with the notes their links reach ``expand`` hops away
        (``parts.via`` names the hit a linked note came from)."""
        self._named_scope(Right.READ, user, agent)
        notes = self.space.notes(user=user, agent=agent)
        hits = notes.search(query, k=k, expand=expand, min_score=min_score)
        return [hit for hit in hits if self.access.sees(hit.memory)]

    def link_note(self, source: str, target: str, type: str = "related") -> Memory:
        """Link note ``source`` to memory ``target`` (both visible) with a typed link."""
        note = self.get(source, Right.WRITE)
        self.get(target)
        notes = self.space.notes(user=note.user, agent=note.agent)
        return notes.link(note.id, target, type)

    def unlink_note(self, source: str, target: str) -> Memory:
        """Remove the links of note ``source`` to ``target``."""
        note = self.get(source, Right.WRITE)
        return self.space.notes(user=note.user, agent=note.agent).unlink(note.id, target)

    def show_note(self, id: str) -> NoteView:
        """A visible note with its links (targets it may not see show as gone) and history."""
        note = self.get(id)
        ids = [link.id for link in note.links]
        seen = {m.id: m for m in self.space.get_many(ids) if self.access.sees(m)}
        links = tuple((link, seen.get(link.id)) for link in note.links)
        return NoteView(note=note, links=links, history=tuple(self.history(id)))

    # Reflection

    def reflect(
        self, *, user: str | None = None, agent: str | None = None, dry_run: bool = False
    ) -> Reflection:
        """Reflect on a scope (or, with the ``*`` namespace, the whole space) once: merge
        duplicates, close superseded memories, archive stale ones, re-score importance;
        ``dry_run`` returns the plan and changes nothing. Rights: see the module docstring.

        Raises:
            Forbidden: the right or namespace is missing.
        """
        dry_run = validate.flag("dry_run", dry_run)
        if user is None and agent is None:
            self.access.require_whole_space(Right.READ if dry_run else Right.ADMIN)
        else:
            self._named_scope(Right.READ if dry_run else Right.WRITE, user, agent)
        return self.space.reflect(user=user, agent=agent, dry_run=dry_run)

    # Reading (MemAgent)

    def read(
        self,
        text: str,
        question: str | None = None,
        *,
        chunk_tokens: int = 2048,
        memory_tokens: int = 1024,
        store: bool = False,
        store_kind: Literal["working", "summary"] = "working",
        scope: Mapping[str, str | None] | None = None,
    ) -> Reading:
        """Read ``text`` through a fixed-size memory with the offline policy; ``store=True``
        saves the final memory in ``scope`` (``placed``: the session's namespace if it names
        none), which needs the write right.

        Raises:
            InvalidInput: a text longer than ``MAX_READ_CHARS`` or a bad budget.
            Forbidden: the right or namespace is missing.
        """
        if not isinstance(text, str) or len(text) > MAX_READ_CHARS:
            raise InvalidInput(
                f"read at most {MAX_READ_CHARS} characters of text at once; split the input"
            )
        where: dict[str, Any] = {}
        if validate.flag("store", store):
            where = {k: v for k, v in self.placed(dict(scope or {})).items() if v is not None}
        else:
            self.access.require_right(Right.READ)
        return self.space.read(
            text,
            question,
            chunk_tokens=chunk_tokens,
            memory_tokens=memory_tokens,
            policy="offline",
            store=store,
            store_kind=store_kind,
            **where,
        )


def _link_id(link: object) -> str:
    """The id a link given to ``add_note`` points to (the notes validate the rest)."""
    if isinstance(link, Link):
        return link.id
    if isinstance(link, Mapping):
        return str(link.get("id"))
    return str(link)
