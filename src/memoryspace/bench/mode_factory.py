"""The retrieval modes by name: ``make_mode`` builds one, ``parse_modes`` reads ``--modes``.

The modes themselves live in ``memoryspace.bench.modes`` (MemorySpace and the simple baselines)
and in their own modules (``mem0_mode``, ``memoryos_mode``, ``notes_mode``), which this factory
imports only when such a mode is asked for; no mode module imports the factory.
"""

from __future__ import annotations

from collections.abc import Sequence

from memoryspace.bench.modes import (
    BM25Mode,
    DenseMode,
    MemorySpaceMode,
    RecentMode,
    ReservoirMode,
    RetrievalMode,
)
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput

MODE_NAMES = (
    "memoryspace",
    "recent",
    "reservoir",
    "bm25",
    "dense",
    "mem0",
    "memoryos",
    "notes",
    "reflect",
)


def make_mode(
    name: str,
    *,
    ref_key: str,
    embedder: Embedder,
    capacity: int,
    seed: int = 0,
    db: str = ":memory:",
) -> RetrievalMode:
    """A fresh mode by name; ``db`` is where the ``memoryspace`` mode keeps its space.

    Raises:
        InvalidInput: an unknown name.
        ModeUnavailable: the mode cannot run here (mem0 not installed, ...).
    """
    if name == "memoryspace":
        return MemorySpaceMode(ref_key, embedder, db)
    if name == "recent":
        return RecentMode(ref_key)
    if name == "reservoir":
        return ReservoirMode(ref_key, capacity, seed)
    if name == "bm25":
        return BM25Mode(ref_key)
    if name == "dense":
        return DenseMode(ref_key, embedder)
    if name == "mem0":
        from memoryspace.bench.mem0_mode import Mem0Mode

        return Mem0Mode(ref_key, embedder)
    if name == "memoryos":
        from memoryspace.bench.memoryos_mode import MemoryOSMode

        return MemoryOSMode(ref_key, embedder)
    if name in ("notes", "reflect"):
        from memoryspace.bench.notes_mode import NotesMode, ReflectMode

        return NotesMode(ref_key, embedder) if name == "notes" else ReflectMode(ref_key, embedder)
    raise InvalidInput(f"unknown mode {name!r}; use some of: {', '.join(MODE_NAMES)}")


def parse_modes(text: str, allowed: Sequence[str] = MODE_NAMES) -> list[str]:
    """``"memoryspace,bm25"`` → names, checked against ``allowed``.

    Raises:
        InvalidInput: an empty list or an unknown name.
    """
    names = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in allowed]
    if not names or unknown:
        raise InvalidInput(f"--modes takes some of {','.join(allowed)}; got {text!r}")
    return names
