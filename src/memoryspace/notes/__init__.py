"""A-MEM notes: keywords, tags and a context per note, links by id, and evolving neighbours.

``MemorySpace.notes(user=..., agent=...)`` returns a ``Notes`` over the space's public methods.
"""

from memoryspace.notes.enrich import (
    Enricher,
    LLMEnricher,
    NoteFacets,
    OfflineEnricher,
    make_enricher,
)
from memoryspace.notes.notes import SEARCH_EXPAND, Notes, NoteView

__all__ = [
    "SEARCH_EXPAND",
    "Enricher",
    "LLMEnricher",
    "NoteFacets",
    "NoteView",
    "Notes",
    "OfflineEnricher",
    "make_enricher",
]
