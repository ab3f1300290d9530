"""What the API returns, as pydantic models: one shape for the CLI's ``--json``, the REST
server's bodies and the remote client.

Each model has ``of(...)`` building it from the facade's dataclass; ``to_json()`` is the
JSON-ready dict. The client turns them back into the facade's types (``to_memory``, ...).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict

from memoryspace.context import AssembledContext
from memoryspace.conversation import Retrieval
from memoryspace.gc import GCEvent
from memoryspace.llm.processors import Persona
from memoryspace.models import Change, Checkpoint, Memory, ScoreParts, SearchHit
from memoryspace.transfer import ImportResult


class Response(BaseModel):
    """Base of the response models: extra keys are refused, so a schema drift is caught."""

    model_config = ConfigDict(extra="forbid")

    def to_json(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (what ``json.dumps`` and an HTTP body take)."""
        return self.model_dump(mode="json", exclude_none=exclude_none)


class LinkOut(Response):
    """A typed link to another memory (see ``models.Link``)."""

    id: str
    type: str
    strong: bool


class MemoryState(Response):
    """The logged part of a memory: what a change's ``before`` and ``after`` hold."""

    id: str
    content: str
    kind: str
    user: str | None
    agent: str | None
    session: str | None
    meta: dict[str, Any]
    tags: list[str]
    links: list[LinkOut]
    tokens: int
    importance: float
    pinned: bool
    created_at: float
    updated_at: float
    valid_from: float | None
    valid_to: float | None
    expires_at: float | None
    generation: int
    archived: bool

    def to_memory(self) -> Memory:
        """The facade's ``Memory`` (with the counters and version a ``MemoryOut`` has)."""
        return Memory.from_dict(self.model_dump(mode="json"))


class MemoryOut(MemoryState):
    """One stored memory with its access counters and version (see ``models.Memory``)."""

    access_count: int
    last_access: float | None
    version: int

    @classmethod
    def of(cls, memory: Memory) -> MemoryOut:
        return cls.model_validate(memory.to_dict())


class ScorePartsOut(Response):
    """Why a hit ranked and scored as it did (see ``models.ScoreParts``)."""

    fused: float
    dense: float | None = None
    dense_rank: int | None = None
    sparse: float | None = None
    sparse_rank: int | None = None
    speaker_boost: float = 0.0
    session_boost: float = 0.0
    phrase_boost: float = 0.0
    entity_boost: float = 0.0
    time_boost: float = 0.0
    dense_relevance: float | None = None
    sparse_relevance: float | None = None
    session_lift: float = 0.0
    relevance: float | None = None
    via: str | None = None  # a hit reached by following a link: the hit it came from
    via_link: str | None = None  # ... and the type of that link


class SearchHitOut(Response):
    """A search hit: the memory, its relevance in [0, 1] and the score's parts."""

    memory: MemoryOut
    score: float
    parts: ScorePartsOut

    @classmethod
    def of(cls, hit: SearchHit) -> SearchHitOut:
        return cls.model_validate(hit.to_dict())

    def to_hit(self) -> SearchHit:
        return SearchHit(
            memory=self.memory.to_memory(),
            score=self.score,
            parts=ScoreParts(**self.parts.model_dump()),
        )


class ChangeOut(Response):
    """One entry of the operation log: ``before``/``after`` are the logged states."""

    lsn: int
    time: float
    op: str
    id: str
    before: MemoryState | None
    after: MemoryState | None
    actor: str | None

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        return cls.model_validate(change.to_dict())

    def to_change(self) -> Change:
        from memoryspace.models import Op

        return Change(
            lsn=self.lsn,
            time=self.time,
            op=Op(self.op),
            id=self.id,
            before=self.before.to_memory() if self.before else None,
            after=self.after.to_memory() if self.after else None,
            actor=self.actor,
        )


class CheckpointOut(Response):
    """A named snapshot and the LSN it reflects; ``damaged`` says why it cannot be used."""

    name: str
    lsn: int
    created_at: float
    path: str | None
    damaged: str | None

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> CheckpointOut:
        return cls(
            name=checkpoint.name,
            lsn=checkpoint.lsn,
            created_at=checkpoint.created_at,
            path=checkpoint.path,
            damaged=checkpoint.damaged,
        )

    def to_checkpoint(self) -> Checkpoint:
        return Checkpoint(**self.model_dump())


class GCEventOut(Response):
    """What one garbage collection did (see ``gc.GCEvent``)."""

    collector: str
    started_at: float
    pause_duration: float
    scanned: int
    collected: int
    promoted: int
    compacted: int
    action_counts: dict[str, int]
    dry_run: bool
    lsn_before: int
    lsn_after: int
    skipped: int

    @classmethod
    def of(cls, event: GCEvent) -> GCEventOut:
        return cls.model_validate(event.to_dict())

    def to_event(self) -> GCEvent:
        return GCEvent(**self.model_dump())


class BlockOut(Response):
    """One block of an assembled context: text from the listed memories, in one region."""

    text: str
    source_ids: list[str]
    tokens: int
    region: str
    offset: int


class ContextOut(Response):
    """A prompt-ready context (see ``context.AssembledContext``)."""

    format: str
    text: str
    messages: list[dict[str, str]]
    blocks: list[BlockOut]
    tokens: int
    budget: int
    dropped: list[str]
    fragmentation: float

    @classmethod
    def of(cls, assembled: AssembledContext) -> ContextOut:
        return cls.model_validate(assembled.to_dict())


class ImportResultOut(Response):
    """What an import did (see ``transfer.ImportResult``)."""

    imported: int
    added: int
    deduplicated: int
    skipped: int
    replaced: int
    memories: int

    @classmethod
    def of(cls, result: ImportResult) -> ImportResultOut:
        return cls.model_validate(result.to_dict())


class CountOut(Response):
    count: int


class ForgetOut(Response):
    """What ``forget`` deleted; a preview (dry run) lists ``would_delete`` and deletes nothing."""

    deleted: list[str]
    would_delete: list[str] | None = None


class RestoreOut(Response):
    """How many logged changes a restore made, and the LSN after it."""

    changes: int
    lsn: int


class TurnOut(Response):
    """A conversation turn stored: its page and the conversation's shape after it."""

    page: str
    stm: int
    segments: int


class RetrievedPageOut(MemoryOut):
    """A conversation page recalled for a query, with its score (``None``: not scored)."""

    score: float | None


class RetrievalOut(Response):
    """What a conversation recalls for a query: pages, topic segments, facts and profile."""

    query: str
    pages: list[RetrievedPageOut]
    segments: list[MemoryOut]
    facts: list[MemoryOut]
    profile: MemoryOut | None

    @classmethod
    def of(cls, found: Retrieval) -> RetrievalOut:
        return cls(
            query=found.query,
            pages=[
                RetrievedPageOut.model_validate(
                    {**page.to_dict(), "score": found.scores.get(page.id)}
                )
                for page in found.ranked_pages()
            ],
            segments=[MemoryOut.of(segment) for segment in found.segments],
            facts=[MemoryOut.of(fact) for fact in found.facts],
            profile=MemoryOut.of(found.profile) if found.profile is not None else None,
        )


class PersonaItemOut(Response):
    relation: str
    object: str
    kind: str
    count: int


class PersonaOut(Response):
    """What long-term memory learned about a user (see ``llm.processors.Persona``)."""

    subject: str
    preferences: list[PersonaItemOut]
    attributes: list[PersonaItemOut]
    relations: list[PersonaItemOut]
    plans: list[PersonaItemOut]
    events: list[PersonaItemOut]
    traits: list[tuple[str, int]]
    topics: list[tuple[str, int]]

    @classmethod
    def of(cls, persona: Persona) -> PersonaOut:
        return cls.model_validate(dataclasses.asdict(persona))


class StatsOut(Response):
    """Sizes, counters and configuration; sections beyond these depend on the settings
    (``hot_tier``, ``auto_gc``, ``llm``, ``profile``, ``embedding_cache``)."""

    model_config = ConfigDict(extra="allow")

    memories: int
    by_kind: dict[str, int]
    pinned: int
    archived: int
    lsn: int

    @classmethod
    def of(cls, stats: dict[str, Any]) -> StatsOut:
        return cls.model_validate(stats)
