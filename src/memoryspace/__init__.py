"""MemorySpace: memory for LLM agents, managed the way operating systems manage memory.

from memoryspace import MemorySpace

with MemorySpace.open("memory.db") as ms:
    ms.add("Maren adopted a greyhound called Biscuit", user="maren")
    hits = ms.search("what is the dog called?", user="maren")
"""

from memoryspace.embed import (
    CachedEmbedder,
    Embedder,
    EmbeddingCache,
    HashingEmbedder,
    MiniLMEmbedder,
    OpenAIEmbedder,
)
from memoryspace.errors import (
    BackendUnavailable,
    Closed,
    Conflict,
    DiskFull,
    Forbidden,
    InvalidInput,
    MemorySpaceError,
    NotFound,
    ReadOnly,
    Unauthorized,
)
from memoryspace.gc import ActionPolicy, GCEvent
from memoryspace.models import Change, Checkpoint, Filter, Kind, Memory, Op, ScoreParts, SearchHit
from memoryspace.notes import Notes, NoteView
from memoryspace.profiler import MemoryProfiler
from memoryspace.reflect import Reflection, ReflectOptions
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace
from memoryspace.store.erasure import PurgeReport
from memoryspace.store.sqlite import SQLiteStore
from memoryspace.structures import MemoryInterface

__version__ = "0.1.0"

__all__ = [
    "ActionPolicy",
    "BackendUnavailable",
    "CachedEmbedder",
    "Change",
    "Checkpoint",
    "Closed",
    "Conflict",
    "DiskFull",
    "Embedder",
    "EmbeddingCache",
    "Filter",
    "Forbidden",
    "GCEvent",
    "HashingEmbedder",
    "InvalidInput",
    "Kind",
    "Memory",
    "MemoryInterface",
    "MemoryProfiler",
    "MemorySpace",
    "MemorySpaceError",
    "MiniLMEmbedder",
    "NotFound",
    "NoteView",
    "Notes",
    "Op",
    "OpenAIEmbedder",
    "PurgeReport",
    "ReadOnly",
    "ReflectOptions",
    "Reflection",
    "SQLiteStore",
    "ScoreParts",
    "SearchHit",
    "Settings",
    "Unauthorized",
    "__version__",
]
