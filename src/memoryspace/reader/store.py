"""A reading as records for ``MemorySpace.add_many``: a ``note`` describing the source, and the
final memory linked to it (one ``working`` record per kept sentence, or one ``summary``).

Plain dicts of ``add``'s fields, so the reader never touches a store: ``save_reading`` writes
them through the narrow ``MemoryInterface`` (``memoryspace.structures``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from memoryspace.models import new_id
from memoryspace.reader.reading import Reading
from memoryspace.structures import MemoryInterface


def save_reading(
    memory: MemoryInterface,
    reading: Reading,
    source: str,
    *,
    kind: str = "working",
    scope: Mapping[str, Any] | None = None,
) -> Reading:
    """Store ``reading`` in ``memory`` (see ``records_of``); returns it with the new ids in
    ``records``."""
    added = memory.add_many(records_of(reading, source, kind=kind, scope=scope), actor="reader")
    return dataclasses.replace(reading, records=tuple(m.id for m in added))


def records_of(
    reading: Reading, source: str, *, kind: str = "working", scope: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The items that save ``reading``: the source note first, then the memory.

    The memory records carry their provenance in ``meta["reader"]`` (chunk, offset) and a
    ``derived_from`` link to the note (strong: the note stays while they do).
    """
    scope = dict(scope or {})
    note_id = new_id()
    totals = reading.totals()
    question = f" for the question {reading.question!r}" if reading.question else ""
    described = (
        f"Read {source}{question}: {reading.tokens_read:,} tokens in {len(reading.chunks)} "
        f"chunks of {reading.chunk_tokens}, kept {len(reading.kept)} sentences "
        f"({totals['memory_tokens']} tokens) with the {reading.policy} policy."
    )
    note = {
        "id": note_id,
        "content": described,
        "kind": "note",
        "tags": ["reader-source"],
        "meta": {
            "reader": {
                "source": source,
                "question": reading.question,
                "policy": reading.policy,
                "chunk_tokens": reading.chunk_tokens,
                "memory_tokens": reading.memory_tokens,
                **{k: v for k, v in totals.items() if k not in ("seconds", "ms_per_1k_tokens")},
            }
        },
        **scope,
    }
    if not reading.kept:
        return [note]
    if kind == "summary":
        spans = [{"chunk": s.chunk, "offset": s.offset} for s in reading.kept]
        summary = {
            "content": reading.memory,
            "kind": "summary",
            "links": [{"id": note_id, "type": "derived_from"}],
            "tags": ["reader-memory"],
            "meta": {"reader": {"source": source, "sentences": spans}},
            **scope,
        }
        return [note, summary]
    return [
        note,
        *(
            {
                "content": sentence.text,
                "kind": "working",
                "links": [{"id": note_id, "type": "derived_from"}],
                "tags": ["reader-memory"],
                "meta": {
                    "reader": {
                        "source": source,
                        "chunk": sentence.chunk,
                        "offset": sentence.offset,
                        "position": position,
                    }
                },
                **scope,
            }
            for position, sentence in enumerate(reading.kept)
        ),
    ]
