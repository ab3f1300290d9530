"""Allocators of the context window: which hole a new record goes into.

One small class per policy with one hook, ``choose``: given the holes of the record's region
(lowest offset first) and the tokens it needs, return a hole that fits, or ``None`` to append the
record at the end of its region. ``placed`` lets a policy keep state (next fit's rover).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from memoryspace.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class FreeBlock:
    """A hole an allocator may choose; ``after_change``: it lies at or after this turn's first
    change, so filling it costs no cached prefix."""

    index: int
    offset: int
    size: int
    after_change: bool


class Allocator:
    """Chooses the hole of a region a new record goes into (``None``: append at region end)."""

    name: ClassVar[str] = "allocator"

    def choose(self, holes: Sequence[FreeBlock], size: int) -> FreeBlock | None:
        raise NotImplementedError

    def placed(self, offset: int, size: int) -> None:
        """Called after every placement (next fit moves its rover)."""


class FirstFit(Allocator):
    """The lowest hole that fits: fast, keeps the window dense at its start."""

    name = "first_fit"

    def choose(self, holes: Sequence[FreeBlock], size: int) -> FreeBlock | None:
        return next((hole for hole in holes if hole.size >= size), None)


class BestFit(Allocator):
    """The smallest hole that fits (lowest on ties): leaves the smallest slivers."""

    name = "best_fit"

    def choose(self, holes: Sequence[FreeBlock], size: int) -> FreeBlock | None:
        fitting = [hole for hole in holes if hole.size >= size]
        return min(fitting, key=lambda hole: (hole.size, hole.offset), default=None)


class NextFit(Allocator):
    """First fit from where the previous placement ended, wrapping around."""

    name = "next_fit"

    def __init__(self) -> None:
        self.rover = 0

    def choose(self, holes: Sequence[FreeBlock], size: int) -> FreeBlock | None:
        fitting = [hole for hole in holes if hole.size >= size]
        ahead = [hole for hole in fitting if hole.offset >= self.rover]
        return next(iter(ahead or fitting), None)

    def placed(self, offset: int, size: int) -> None:
        self.rover = offset + size


class PrefixFit(Allocator):
    """Best fit among the holes after this turn's first change; never disturbs the prefix."""

    name = "prefix_fit"

    def choose(self, holes: Sequence[FreeBlock], size: int) -> FreeBlock | None:
        return BestFit().choose([hole for hole in holes if hole.after_change], size)


ALLOCATORS: dict[str, type[Allocator]] = {
    cls.name: cls for cls in (FirstFit, BestFit, NextFit, PrefixFit)
}


def make_allocator(choice: str | Allocator) -> Allocator:
    """An allocator from its name (``first_fit``, ``best_fit``, ``next_fit``, ``prefix_fit``).

    Raises:
        InvalidInput: an unknown name.
    """
    if isinstance(choice, Allocator):
        return choice
    try:
        return ALLOCATORS[choice]()
    except KeyError:
        raise InvalidInput(
            f"unknown allocator {choice!r}; use one of: {', '.join(ALLOCATORS)}"
        ) from None
