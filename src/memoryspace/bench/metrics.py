"""Retrieval-quality metrics: pure functions over ranked ids and gold evidence ids.

A ranked list is what a retriever returned, best first; evidence is the set of ids that answer
the question. Every function counts each id once (a ranked list that repeats an id gains
nothing from the repeat).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

from memoryspace.errors import InvalidInput

ALL_1_4 = "all_1_4"


def _gold(evidence: Collection[str]) -> set[str]:
    gold = set(evidence)
    if not gold:
        raise InvalidInput("a question needs at least one evidence id to be scored")
    return gold


def evidence_recall_at_k(ranked_ids: Sequence[str], evidence_ids: Collection[str], k: int) -> float:
    """``|top-k ∩ evidence| / |evidence|``.

    Raises:
        InvalidInput: no evidence, or ``k < 1``.
    """
    if k < 1:
        raise InvalidInput(f"k must be at least 1, got {k}")
    gold = _gold(evidence_ids)
    return len(gold.intersection(ranked_ids[:k])) / len(gold)


def all_found_at_k(ranked_ids: Sequence[str], evidence_ids: Collection[str], k: int) -> bool:
    """Whether every evidence id is in the top ``k`` (HotpotQA's all-supporting-facts hit)."""
    return evidence_recall_at_k(ranked_ids, evidence_ids, k) == 1.0


def budget_prefix(
    ranked_ids: Sequence[str], token_counts: Mapping[str, int], budget: int
) -> list[str]:
    """The ranked ids taken in order while they fit in ``budget`` tokens.

    Taking stops at the first id that does not fit (a context is filled in rank order; a
    smaller, lower-ranked memory does not jump the queue).
    """
    taken: list[str] = []
    used = 0
    for ref in ranked_ids:
        cost = token_counts[ref]
        if used + cost > budget:
            break
        used += cost
        taken.append(ref)
    return taken


def recall_at_budget(
    ranked_ids: Sequence[str],
    token_counts: Mapping[str, int],
    evidence: Collection[str],
    budget: int,
) -> float:
    """Share of the evidence inside the ranked prefix that fits in ``budget`` tokens.

    Raises:
        InvalidInput: no evidence.
    """
    gold = _gold(evidence)
    return len(gold.intersection(budget_prefix(ranked_ids, token_counts, budget))) / len(gold)


def reciprocal_rank(ranked_ids: Sequence[str], evidence: Collection[str]) -> float:
    """``1 / rank`` of the first evidence id in the list (ranks from 1), 0 if none is there.

    Raises:
        InvalidInput: no evidence.
    """
    gold = _gold(evidence)
    for rank, ref in enumerate(ranked_ids, 1):
        if ref in gold:
            return 1.0 / rank
    return 0.0


def first_occurrences(ids: Iterable[str]) -> list[str]:
    """Distinct ids in the order they first appear (turn ranks → session ranks)."""
    return list(dict.fromkeys(ids))


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between the closest ranks (NumPy's default).

    Raises:
        InvalidInput: no samples, or ``q`` outside 0..100.
    """
    if not samples:
        raise InvalidInput("percentile of no samples")
    if not 0 <= q <= 100:
        raise InvalidInput(f"percentile must be within 0..100, got {q}")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean_by_category(
    scores: Iterable[tuple[int, float]],
    categories: Iterable[int] = (1, 2, 3, 4, 5),
    pooled: Mapping[str, Collection[int]] | None = None,
) -> dict[str, float | None]:
    """Mean score per category (keys ``"1"``…), plus pooled means over several categories.

    ``pooled`` defaults to ``{"all_1_4": {1, 2, 3, 4}}``: the mean over every question of those
    categories (each question weighs the same). A category without questions maps to ``None``.
    """
    pooled = {ALL_1_4: (1, 2, 3, 4)} if pooled is None else pooled
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for category, score in scores:
        sums[category] = sums.get(category, 0.0) + score
        counts[category] = counts.get(category, 0) + 1
    out: dict[str, float | None] = {}
    for category in categories:
        n = counts.get(category, 0)
        out[str(category)] = sums[category] / n if n else None
    for name, members in pooled.items():
        n = sum(counts.get(c, 0) for c in members)
        out[name] = sum(sums.get(c, 0.0) for c in members) / n if n else None
    return out


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, ``None`` for no values."""
    return sum(values) / len(values) if values else None
