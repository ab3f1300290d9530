"""Regions of the context window: which part of the prompt a record belongs in.

Regions are laid out in a fixed order — ``pinned``, ``stable``, ``volatile`` — so content that
changes least comes first and an LLM server's prefix cache can reuse it across turns.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from memoryspace.models import Kind, Memory
from memoryspace.tokens import estimate_tokens


class Region(StrEnum):
    """Where in the window a record lives; regions are laid out in this order."""

    PINNED = "pinned"
    STABLE = "stable"
    VOLATILE = "volatile"


REGION_ORDER = (Region.PINNED, Region.STABLE, Region.VOLATILE)
REGION_RANK = {region: rank for rank, region in enumerate(REGION_ORDER)}
_VOLATILE_KINDS = frozenset({Kind.TURN, Kind.WORKING, Kind.PLAN})

RegionClassifier = Callable[[Memory], Region]
SizeOf = Callable[[Memory], int]


def default_region(memory: Memory) -> Region:
    """Pinned records and persona first; then the old generation; recent turns, work and plans last.

    ``meta["generation"]`` (``"old"`` / ``"young"``, as a generational collector sets it) wins
    over the kind.
    """
    if memory.pinned or memory.kind is Kind.PERSONA:
        return Region.PINNED
    generation = memory.meta.get("generation")
    if generation == "old":
        return Region.STABLE
    if generation == "young":
        return Region.VOLATILE
    return Region.VOLATILE if memory.kind in _VOLATILE_KINDS else Region.STABLE


def region_by_age(young_seconds: float, now: Callable[[], float]) -> RegionClassifier:
    """``default_region``, except that records older than ``young_seconds`` are ``stable``.

    When a placed record ages into the stable region, ``ContextWindow.update`` moves it there
    (a promotion, in generational-GC terms).
    """

    def classify(memory: Memory) -> Region:
        region = default_region(memory)
        if region is Region.VOLATILE and now() - memory.created_at > young_seconds:
            return Region.STABLE
        return region

    return classify


def default_size(memory: Memory) -> int:
    """A record's ``tokens``, or the chars / 4 estimate of its content when it has none."""
    return memory.tokens if memory.tokens > 0 else estimate_tokens(memory.content)
