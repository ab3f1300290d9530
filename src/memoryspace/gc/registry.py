"""Collectors by name, as ``MemorySpace.gc("name", **options)``, the CLI and settings take them."""

from __future__ import annotations

import dataclasses

from memoryspace.errors import InvalidInput
from memoryspace.gc.bounded import BoundedCollector
from memoryspace.gc.collectors import (
    Collector,
    GenerationalCollector,
    MarkSweepCollector,
    TTLCollector,
)
from memoryspace.gc.roots import Roots

COLLECTORS: dict[str, type[Collector]] = {
    "ttl": TTLCollector,
    "mark_sweep": MarkSweepCollector,
    "generational": GenerationalCollector,
    "bounded": BoundedCollector,
}


def make_collector(name: str, **options: object) -> Collector:
    """A collector by name with its options.

    Raises:
        InvalidInput: an unknown collector or option.
    """
    cls = COLLECTORS.get(name)
    if cls is None:
        raise InvalidInput(f"unknown collector {name!r}; use one of: {', '.join(COLLECTORS)}")
    try:
        return cls(**options)
    except TypeError as exc:
        raise InvalidInput(f"bad option for the {name} collector: {exc}") from None


def with_roots(collector: Collector, roots: Roots) -> Collector:
    """``collector`` seeing ``roots`` (a copy), unless it has its own or takes none."""
    if dataclasses.is_dataclass(collector) and getattr(collector, "roots", False) is None:
        return dataclasses.replace(collector, roots=roots)  # type: ignore[call-arg]
    return collector
