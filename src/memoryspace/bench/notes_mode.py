"""The ``notes`` and ``reflect`` benchmark modes.

    memoryspace bench locomo --data locomo10.json --modes memoryspace,notes

``notes``: each record is added as an A-MEM note (``MemorySpace.notes``: keywords, tags and a
context, an embedding of all four, links to its ``k`` nearest notes, neighbours evolved), and
``rank`` is the notes' own search with ``expand=1`` (hits reached through a link rank after the
hit linking them, at 0.8 of its score). Offline (the default) ``llm_calls_per_turn`` is 0;
with ``MEMORYSPACE_LLM_URL`` set the model's calls are counted.

``reflect``: ``memoryspace`` plus one ``reflect()`` per scope after ingesting it, so memories
a newer one superseded are closed and no longer retrieved (see ``memoryspace.reflect``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memoryspace.bench.modes import MemorySpaceMode, Record, RetrievalMode, record_ref
from memoryspace.embed.base import Embedder
from memoryspace.notes import LLMEnricher, Notes
from memoryspace.space import MemorySpace

_NOTE_FIELDS = ("session", "timestamp", "meta")


class NotesMode(RetrievalMode):
    """A-MEM notes in an in-memory space, one ``Notes`` per scope."""

    name = "notes"

    def __init__(self, ref_key: str, embedder: Embedder, *, expand: int = 1) -> None:
        super().__init__(ref_key)
        self.space = MemorySpace.open(":memory:", embedder=embedder)
        self.expand = expand
        self.notes: dict[str, Notes] = {}
        self.added = 0

    def ingest(self, records: Sequence[Record]) -> None:
        for record in records:
            scope = str(record.get("user") or "")
            notes = self.notes.get(scope)
            if notes is None:
                notes = self.notes[scope] = self.space.notes(user=scope)
            fields: dict[str, Any] = {f: record[f] for f in _NOTE_FIELDS if f in record}
            record_ref(record, self.ref_key)  # every record must name its item
            notes.add(str(record["content"]), **fields)
            self.added += 1

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        notes = self.notes.get(scope)
        if notes is None:
            return []
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
