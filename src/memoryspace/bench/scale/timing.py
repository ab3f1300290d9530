"""Small measuring helpers the scale benchmark's parts share."""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path

import numpy as np

from memoryspace.embed.base import Vectors


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """The median and the 99th percentile (nearest rank) of ``samples_ms``."""
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def ms_since(started: float) -> float:
    """Milliseconds from ``started`` (a ``time.perf_counter()`` reading) to now."""
    return (time.perf_counter() - started) * 1000


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB: ``VmHWM`` from
    ``/proc/self/status`` where there is one (``getrusage`` keeps the peak of the process that
    spawned this one across ``exec``, so a child would report its parent's), else
    ``getrusage`` (which Linux reports in KiB)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def exact_top(vectors: Vectors, query: Vectors, k: int) -> set[int]:
    """Row numbers of the ``k`` rows of ``vectors`` with the largest dot product with ``query``,
    computed in float32 over blocks of rows (a 1M x 384 memory map is not read into RAM)."""
    best_scores = np.empty(0, np.float32)
    best_rows = np.empty(0, np.int64)
    for start in range(0, len(vectors), 262_144):
        scores = np.asarray(vectors[start : start + 262_144]) @ query
        scores = np.concatenate([best_scores, scores])
        rows = np.concatenate([best_rows, np.arange(start, start + len(scores) - len(best_rows))])
        keep = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        best_scores, best_rows = scores[keep], rows[keep]
    return set(best_rows.tolist())


def recall(found: list[int] | set[int], exact: set[int]) -> float:
    """The share of ``exact`` that ``found`` holds."""
    return len(set(found) & exact) / max(1, len(exact))
