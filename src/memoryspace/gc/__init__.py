"""Garbage collection of memories: collectors (what is garbage), actions (what collecting
means per kind) and triggers (when to collect). ``MemorySpace.gc`` runs one collection;
``Settings(gc_trigger=...)`` makes a space collect by itself (``memoryspace.gc.auto``)."""

from memoryspace.gc.actions import ActionPolicy
from memoryspace.gc.auto import AutoCollector, make_trigger
from memoryspace.gc.bounded import BoundedCollector
from memoryspace.gc.collectors import (
    Collector,
    GenerationalCollector,
    MarkSweepCollector,
    Plan,
    TTLCollector,
    reachable,
)
from memoryspace.gc.events import GCEvent
from memoryspace.gc.registry import COLLECTORS, make_collector, with_roots
from memoryspace.gc.roots import RootRule, Roots
from memoryspace.gc.runner import run_collection
from memoryspace.gc.triggers import (
    EpsilonGreedyBandit,
    FragmentationTrigger,
    GrowthTrigger,
    HeapStats,
    PeriodicTrigger,
    Trigger,
)

__all__ = [
    "COLLECTORS",
    "ActionPolicy",
    "AutoCollector",
    "BoundedCollector",
    "Collector",
    "EpsilonGreedyBandit",
    "FragmentationTrigger",
    "GCEvent",
    "GenerationalCollector",
    "GrowthTrigger",
    "HeapStats",
    "MarkSweepCollector",
    "PeriodicTrigger",
    "Plan",
    "RootRule",
    "Roots",
    "TTLCollector",
    "Trigger",
    "make_collector",
    "make_trigger",
    "reachable",
    "run_collection",
    "with_roots",
]
