"""Embeddings computed once and kept on disk, so every run and every size reuses them.

MiniLM embeds only a few dozen passages a second on a busy 2-core machine, so the scale benchmark
never embeds a record twice: the vectors of a text list live in one raw float32 file
(``<model id>-<text hash>.f32`` under ``<cache>/scale-vectors``, row ``i`` the vector of text
``i``) with a small JSON beside it saying how many rows are complete. Filling appends rows and
then updates the count, so an interrupted fill resumes where it stopped, and a run that needs the
first ``n`` rows embeds only the rows not yet there. Reads are memory maps.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from memoryspace.cachedir import cache_dir
from memoryspace.embed.base import Embedder, Vectors
from memoryspace.embed.cache import CachedEmbedder

Progress = Callable[[str, int, int], None]
_CHUNK = 512  # rows embedded between two saves of the count


def default_folder() -> Path:
    """``<cache dir>/scale-vectors``."""
    return cache_dir() / "scale-vectors"


class VectorFile:
    """The cached vectors of one text list under one model: a float32 file plus its row count."""

    def __init__(self, folder: Path, model_id: str, digest: str, dimension: int) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", model_id)
        self.path = folder / f"{name}-{digest}.f32"
        self._count_path = self.path.with_suffix(".json")
        self.dimension = dimension

    def count(self) -> int:
        """How many leading rows are complete."""
        if not self._count_path.is_file():
            return 0
        return int(json.loads(self._count_path.read_text(encoding="utf-8"))["rows"])

    def read(self, n: int) -> Vectors:
        """The first ``n`` rows, memory-mapped (read-only); ``n`` must not exceed ``count()``."""
        if n == 0:
            return np.zeros((0, self.dimension), np.float32)
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(n, self.dimension))

    def append(self, start: int, rows: Vectors) -> None:
        """Write ``rows`` as rows ``start...``, then record the new count."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("r+b" if self.path.exists() else "wb") as handle:
            handle.seek(start * self.dimension * 4)
            handle.write(np.ascontiguousarray(rows, dtype=np.float32).tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        partial = self._count_path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"rows": start + len(rows)}), encoding="utf-8")
        partial.replace(self._count_path)


def cached_vectors(
    texts: Sequence[str],
    digest: str,
    embedder: Embedder,
    *,
    folder: Path | None = None,
    progress: Progress | None = None,
    label: str = "embedding",
) -> Vectors:
    """The vectors of ``texts`` (whose hash is ``digest``), embedding only the rows the cache
    lacks. ``digest`` keys the file, so it must hash the same list ``texts`` starts: a prefix of
    a longer list shares the longer list's file when given that list's digest."""
    inner = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
    store = VectorFile(folder or default_folder(), inner.model_id, digest, inner.dimension)
    done = min(store.count(), len(texts))
    while done < len(texts):
        if progress is not None:
            progress(label, done, len(texts))
        stop = min(len(texts), done + _CHUNK)
        store.append(done, inner.embed(list(texts[done:stop])))
        done = stop
    if progress is not None:
        progress(label, done, len(texts))
    return store.read(len(texts))
