"""The ``notes`` and ``reflect`` benchmark modes.

    memoryspace bench locomo --data locomo10.json --modes memoryspace,notes:expand=1,notes:expand=0

``notes``: each record is added as an A-MEM note (``MemorySpace.notes``: keywords, tags and a
context, an embedding of all four, links to its ``k`` nearest notes, neighbours evolved), and
``rank`` is the notes' own search (``Notes.search``) with its default link expansion (none);
``notes:expand=0`` and ``notes:expand=1`` set it (a linked hit scores at most 0.8 of the hit
linking it and at most its own relevance). Offline (the default) the notes' embedding texts
(content, keywords, tags, context: a function of the content alone) are embedded before the
clock starts, as every mode's texts are, and ``llm_calls_per_turn`` is 0; with
``MEMORYSPACE_LLM_URL`` set the model's calls are counted.

``reflect``: ``memoryspace`` plus one ``reflect()`` per scope after ingesting it, so memories
a newer one superseded are closed and no longer retrieved (see ``memoryspace.reflect``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memoryspace.bench.modes import MemorySpaceMode, Record, RetrievalMode, record_ref
from memoryspace.embed.base import Embedder
from memoryspace.embed.cache import CachedEmbedder
from memoryspace.notes import LLMEnricher, Notes
from memoryspace.notes.notes import embedding_text
from memoryspace.space import MemorySpace

_NOTE_FIELDS = ("session", "timestamp", "meta")
_WARM_BATCH = 256


class NotesMode(RetrievalMode):
    """A-MEM notes in an in-memory space, one ``Notes`` per scope; ``expand`` is the link
    expansion of ``rank`` (``None``: ``Notes.search``'s default)."""

    name = "notes"

    def __init__(self, ref_key: str, embedder: Embedder, *, expand: int | None = None) -> None:
        super().__init__(ref_key)
        self.space = MemorySpace.open(":memory:", embedder=embedder)
        self.expand = expand
        self.notes: dict[str, Notes] = {}
        self.added = 0

    def _notes_of(self, scope: str) -> Notes:
        notes = self.notes.get(scope)
        if notes is None:
            notes = self.notes[scope] = self.space.notes(user=scope)
        return notes

    def prepare(self, records: Sequence[Record]) -> None:
        """Embed each note's embedding text into the embedding cache (offline enricher and a
        caching embedder only: a model's descriptions are part of what ingest costs)."""
        if not isinstance(self.space.embedder, CachedEmbedder):
            return
        texts: list[str] = []
        for record in records:
            enricher = self._notes_of(str(record.get("user") or "")).enricher
            if isinstance(enricher, LLMEnricher):
                return
            content = str(record["content"])
            texts.append(embedding_text(content, enricher.describe(content)))
        unique = list(dict.fromkeys(texts))
        for at in range(0, len(unique), _WARM_BATCH):
            self.space.embedder.embed(unique[at : at + _WARM_BATCH])

    def ingest(self, records: Sequence[Record]) -> None:
        for record in records:
            notes = self._notes_of(str(record.get("user") or ""))
            fields: dict[str, Any] = {f: record[f] for f in _NOTE_FIELDS if f in record}
            record_ref(record, self.ref_key)  # every record must name its item
            notes.add(str(record["content"]), **fields)
            self.added += 1

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        notes = self.notes.get(scope)
        if notes is None:
            return []
        if self.expand is None:
            hits = notes.search(question, k=k, min_score=0.0)
        else:
            hits = notes.search(question, k=k, expand=self.expand, min_score=0.0)
        return [str(hit.memory.meta[self.ref_key]) for hit in hits]

    @property
    def llm_calls_per_turn(self) -> float:
        """Model calls per added note (0 offline)."""
        calls = sum(
            n.enricher.calls for n in self.notes.values() if isinstance(n.enricher, LLMEnricher)
        )
        return round(calls / self.added, 4) if self.added else 0.0

    def close(self) -> None:
        self.space.close()


class ReflectMode(MemorySpaceMode):
    """``memoryspace`` with one reflection per scope after its records are in."""

    name = "reflect"

    def __init__(self, ref_key: str, embedder: Embedder) -> None:
        super().__init__(ref_key, embedder)
        self.closed = 0
        self.merged = 0

    def ingest(self, records: Sequence[Record]) -> None:
        super().ingest(records)
        for scope in dict.fromkeys(str(r.get("user") or "") for r in records):
            result = self.space.reflect(user=scope or None)
            self.closed += result.counts.get("supersede", 0) + result.counts.get("contradict", 0)
            self.merged += result.counts.get("merge", 0)
