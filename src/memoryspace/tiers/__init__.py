"""The hot tier: records in RAM in front of the store, with page replacement and write policies.

from memoryspace.tiers import HotTier

with HotTier(store, capacity_records=64, policy="arc", write_policy="write_back") as hot:
    memory = hot.get(id)                      # a hit, or a page fault that promotes it
    hot.update(id, {"importance": 0.9})      # a patch: dirty until evicted, flushed or closed
"""

from memoryspace.tiers.hot import WRITE_POLICIES, HotTier
from memoryspace.tiers.policies import (
    POLICY_NAMES,
    ARCPolicy,
    ClockPolicy,
    ForgettingCurvePolicy,
    HeatPolicy,
    LFUPolicy,
    LRUPolicy,
    ReplacementPolicy,
    make_policy,
)

__all__ = [
    "POLICY_NAMES",
    "WRITE_POLICIES",
    "ARCPolicy",
    "ClockPolicy",
    "ForgettingCurvePolicy",
    "HeatPolicy",
    "HotTier",
    "LFUPolicy",
    "LRUPolicy",
    "ReplacementPolicy",
    "make_policy",
]
