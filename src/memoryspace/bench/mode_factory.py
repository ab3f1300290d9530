"""The retrieval modes by name: ``make_mode`` builds one, ``parse_modes`` reads ``--modes``.

The modes themselves live in ``memoryspace.bench.modes`` (MemorySpace and the simple baselines)
and in their own modules (``mem0_mode``, ``memoryos_mode``, ``notes_mode``), which this factory
imports only when such a mode is asked for; no mode module imports the factory.

A mode name may carry options after a colon: ``notes:expand=0`` is the notes mode ranking
without link expansion (``expand=0..3``), so one run can compare it with ``notes``.
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
MODE_OPTIONS = {"notes": ("expand",)}
"""The options each mode takes after a colon (``notes:expand=0``)."""


def split_mode(spec: str) -> tuple[str, dict[str, int]]:
    """``"notes:expand=0"`` → ``("notes", {"expand": 0})``; a plain name has no options.

    Raises:
        InvalidInput: an unknown mode or option, or a value that is not an integer 0..3.
    """
    name, _, rest = spec.partition(":")
    if name not in MODE_NAMES:
        raise InvalidInput(f"unknown mode {name!r}; use some of: {', '.join(MODE_NAMES)}")
    options: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in rest.split(":"))):
        key, eq, value = item.partition("=")
        if key not in MODE_OPTIONS.get(name, ()) or not eq:
            known = ", ".join(f"{o}=N" for o in MODE_OPTIONS.get(name, ())) or "none"
            raise InvalidInput(f"mode {name!r} takes options {known}; got {item!r} in {spec!r}")
        if value not in ("0", "1", "2", "3"):
            raise InvalidInput(f"{key} in {spec!r} must be an integer 0..3, got {value!r}")
        options[key] = int(value)
    return name, options


def make_mode(
    name: str,
    *,
    ref_key: str,
    embedder: Embedder,
    capacity: int,
    seed: int = 0,
    db: str = ":memory:",
) -> RetrievalMode:
    """A fresh mode by name (options after a colon: ``notes:expand=0``); ``db`` is where the
    ``memoryspace`` mode keeps its space.

    Raises:
        InvalidInput: an unknown name or option.
        ModeUnavailable: the mode cannot run here (mem0 not installed, ...).
    """
    name, options = split_mode(name)
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

        if name == "notes":
            return NotesMode(ref_key, embedder, expand=options.get("expand"))
        return ReflectMode(ref_key, embedder)
    raise InvalidInput(f"unknown mode {name!r}; use some of: {', '.join(MODE_NAMES)}")


def parse_modes(text: str, allowed: Sequence[str] = MODE_NAMES) -> list[str]:
    """``"memoryspace,bm25,notes:expand=0"`` → names, checked against ``allowed`` (and their
    options against ``MODE_OPTIONS``).

    Raises:
        InvalidInput: an empty list, an unknown name or a bad option.
    """
    names = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n.partition(":")[0] not in allowed]
    if not names or unknown:
        raise InvalidInput(f"--modes takes some of {','.join(allowed)}; got {text!r}")
    for name in names:
        split_mode(name)
    return names
