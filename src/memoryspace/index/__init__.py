"""Vector indexes: nearest memories by cosine similarity over the store's integer keys.

``AdaptiveIndex`` is the one MemorySpace uses: exact search while small, HNSW (usearch) once large.
``save_index`` and ``load_index`` keep it beside the database, stamped with the LSN it reflects.
"""

from memoryspace.index.adaptive import AdaptiveIndex
from memoryspace.index.base import VectorIndex
from memoryspace.index.exact import ExactIndex
from memoryspace.index.hnsw import HNSWIndex
from memoryspace.index.persist import load_index, save_index

__all__ = [
    "AdaptiveIndex",
    "ExactIndex",
    "HNSWIndex",
    "VectorIndex",
    "load_index",
    "save_index",
]
