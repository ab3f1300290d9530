"""The per-user cache folder: ``$MEMORYSPACE_CACHE``, else ``~/.cache/memoryspace``.

It holds what MemorySpace can always rebuild: the ONNX graph built from the MiniLM weights
(``minilm-l6-v2-g<graph version>-<weights hash>.onnx``, about 90 MB; only the current one is
kept) and the embedding cache (``embeddings.sqlite`` and its WAL files). ``clear_cache`` removes
them; the next use rebuilds what it needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GRAPH_PREFIX = "minilm-l6-v2-"
_EMBEDDINGS = ("embeddings.sqlite", "embeddings.sqlite-wal", "embeddings.sqlite-shm")


def cache_dir() -> Path:
    """``$MEMORYSPACE_CACHE`` when set, else ``~/.cache/memoryspace``."""
    configured = os.environ.get("MEMORYSPACE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "memoryspace"


@dataclass(frozen=True, slots=True)
class CacheFile:
    """One file of the cache: its path, size in bytes and what it is."""

    path: Path
    bytes: int
    what: str


def cache_files(folder: Path | None = None) -> list[CacheFile]:
    """The files MemorySpace keeps in ``folder`` (default ``cache_dir()``), by name."""
    folder = cache_dir() if folder is None else folder
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        if path.name.startswith(GRAPH_PREFIX) and path.suffix == ".onnx":
            what = "MiniLM ONNX graph"
        elif path.name.startswith(".minilm-") and path.suffix == ".tmp":
            what = "MiniLM ONNX graph (unfinished)"
        elif path.name in _EMBEDDINGS:
            what = "embedding cache"
        else:
            continue  # not ours: never touched
        found.append(CacheFile(path, path.stat().st_size, what))
    return found


def clear_cache(folder: Path | None = None) -> list[CacheFile]:
    """Delete the files ``cache_files`` lists; returns them. Files of others stay."""
    removed = []
    for entry in cache_files(folder):
        try:
            entry.path.unlink()
        except FileNotFoundError:
            continue  # another process removed it first
        removed.append(entry)
    return removed


def prune_graphs(folder: Path, keep: Path) -> list[Path]:
    """Delete every cached ONNX graph in ``folder`` but ``keep`` (older weights or graph
    versions, or the size-and-mtime keys of earlier releases); returns what was removed."""
    removed = []
    for path in folder.glob(f"{GRAPH_PREFIX}*.onnx"):
        if path.name != keep.name:
            try:
                path.unlink()
            except OSError:
                continue  # gone already, or not ours to delete
            removed.append(path)
    return removed
