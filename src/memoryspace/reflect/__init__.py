"""Reflection: duplicates merged, superseded memories closed, stale ones archived, importance
re-scored from use — one undoable maintenance job (actor ``reflect``).

``MemorySpace.reflect(user=..., agent=..., dry_run=False)`` runs it; see ``planner`` for the
rules and ``claims`` for the subject-attribute-value extraction.
"""

from memoryspace.reflect.claims import (
    Claim,
    ClaimExtractor,
    LLMClaimExtractor,
    OfflineClaimExtractor,
    extract_claims,
    make_extractor,
)
from memoryspace.reflect.job import Reflection, reflect
from memoryspace.reflect.planner import ReflectOptions, plan_reflection

__all__ = [
    "Claim",
    "ClaimExtractor",
    "LLMClaimExtractor",
    "OfflineClaimExtractor",
    "ReflectOptions",
    "Reflection",
    "extract_claims",
    "make_extractor",
    "plan_reflection",
    "reflect",
]
