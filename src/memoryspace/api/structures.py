"""Requests and responses of the agent structures: linked notes, reflection and reading (the
REST routes ``/notes``, ``/reflect``, ``/read`` and the MCP tools over them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from memoryspace.api.requests import Content, LinkIn, Name, Query, Request, Score
from memoryspace.api.responses import ChangeOut, MemoryOut, Response
from memoryspace.maintenance.plan import EditGroup
from memoryspace.notes.notes import SEARCH_EXPAND, NoteView
from memoryspace.reader.reading import Reading
from memoryspace.reflect.job import Reflection

LinkTypeName = Literal[
    "related", "supports", "contradicts", "follows", "derived_from", "supersedes"
]
MAX_NOTE_LINKS = 100


class NoteIn(Request):
    """A note to add (``Notes.add``): linked to its neighbours in the scope and to ``links``."""

    content: Content
    user: Name | None = None
    agent: Name | None = None
    session: Name | None = None
    tags: list[Name] | None = Field(default=None, max_length=100)
    links: list[Name | LinkIn] | None = Field(default=None, max_length=MAX_NOTE_LINKS)
    importance: Score | None = None
    pinned: bool = False

    def scope(self) -> dict[str, Any]:
        return {"user": self.user, "agent": self.agent}

    def fields(self) -> dict[str, Any]:
        """``add_note``'s keyword arguments beyond the content and scope."""
        out: dict[str, Any] = {"pinned": self.pinned, "tags": list(self.tags or [])}
        out["links"] = [
            link if isinstance(link, str) else link.model_dump(exclude_none=True)
            for link in self.links or []
        ]
        if self.session is not None:
            out["session"] = self.session
        if self.importance is not None:
            out["importance"] = self.importance
        return out


class NoteSearchIn(Request):
    """The best notes of a scope for ``query``, following their links ``expand`` hops."""

    query: Query
    user: Name | None = None
    agent: Name | None = None
    k: Annotated[int, Field(ge=1, le=100)] = 10
    expand: Annotated[int, Field(ge=0, le=3)] = SEARCH_EXPAND
    min_score: Score | None = None


class NoteLinkIn(Request):
    """A typed link from a note to another memory."""

    target: Name
    type: LinkTypeName = "related"


class ReflectIn(Request):
    """One reflection over a scope (none: the whole space, admin); ``dry_run`` only plans."""

    user: Name | None = None
    agent: Name | None = None
    dry_run: bool = False


class NoteLinkOut(Response):
    """A link of a note, with its target's content (``None``: gone, or not visible)."""

    id: str
    type: str
    strong: bool
    content: str | None


class NoteOut(Response):
    """A note with its links and its logged history (oldest first)."""

    note: MemoryOut
    links: list[NoteLinkOut]
    history: list[ChangeOut]

    @classmethod
    def of(cls, view: NoteView) -> NoteOut:
        return cls(
            note=MemoryOut.of(view.note),
            links=[
                NoteLinkOut(
                    id=link.id,
                    type=str(link.type),
                    strong=link.strong,
                    content=None if target is None else target.content,
                )
                for link, target in view.links
            ],
            history=[ChangeOut.of(change) for change in view.history],
        )


class PlannedGroupOut(Response):
    """One group of a reflection's plan: what it does, why, to which records, and the ids of
    the records it inserts (a merge's result)."""

    action: str
    reason: str
    ids: list[str]
    new: list[str]

    @classmethod
    def of(cls, group: EditGroup) -> PlannedGroupOut:
        return cls.model_validate(group.describe())


class ReflectionOut(Response):
    """What a reflection planned (and, unless a dry run, applied or skipped); restoring to
    ``lsn_before`` undoes it."""

    dry_run: bool
    lsn_before: int
    lsn_after: int
    counts: dict[str, int]
    applied: int
    skipped: int
    plan: list[PlannedGroupOut]

    @classmethod
    def of(cls, reflection: Reflection) -> ReflectionOut:
        return cls.model_validate(reflection.to_dict())


class KeptSentenceOut(Response):
    """A sentence of a reading's final memory, with the chunk and offset it came from."""

    text: str
    chunk: int
    offset: int | None
    tokens: int
    generated: bool


class ReadingTotalsOut(Response):
    chunks: int
    tokens_read: int
    chars_read: int
    sentences_read: int
    dropped: int
    evicted: int
    kept: int
    memory_tokens: int
    fallbacks: int
    repairs: int
    trimmed: int
    seconds: float
    ms_per_1k_tokens: float


class ReadingOut(Response):
    """What a reading kept in its fixed-size memory, and the ids of records it stored."""

    question: str | None
    memory: str
    policy: str
    chunk_tokens: int
    memory_tokens: int
    totals: ReadingTotalsOut
    kept: list[KeptSentenceOut]
    records: list[str]

    @classmethod
    def of(cls, reading: Reading) -> ReadingOut:
        return cls.model_validate(reading.to_dict(chunks=False))
