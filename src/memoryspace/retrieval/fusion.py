"""Reciprocal rank fusion: combine ranked lists by ``sum(weight / (k + rank))``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ranked:
    """One retriever's view of a candidate: its 1-based rank and raw score."""

    rank: int
    score: float


def reciprocal_rank_fusion(
    lists: Sequence[Sequence[tuple[int, float]]],
    weights: Sequence[float],
    *,
    k: float = 60.0,
) -> list[tuple[int, float, list[Ranked | None]]]:
    """Fuse ranked ``(key, score)`` lists, best first.

    Returns ``(key, fused score, per-list Ranked or None)``; ties break by the best single rank,
    then by key for determinism.
    """
    if len(lists) != len(weights):
        raise ValueError("one weight per list")
    fused: dict[int, float] = {}
    seen: dict[int, list[Ranked | None]] = {}
    for position, (ranked, weight) in enumerate(zip(lists, weights, strict=True)):
        for rank, (key, score) in enumerate(ranked, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
            parts = seen.setdefault(key, [None] * len(lists))
            parts[position] = Ranked(rank, score)

    def order(key: int) -> tuple[float, int, int]:
        best = min(p.rank for p in seen[key] if p is not None)
        return (-fused[key], best, key)

    return [(key, fused[key], seen[key]) for key in sorted(fused, key=order)]
