"""Content fingerprints: how the store finds a memory that already says the same thing.

Two contents are the same when they are equal after Unicode case folding, collapsing runs of
whitespace into one space and stripping the ends ("Tobi  likes TEA " == "tobi likes tea").
The fingerprint is a hash of that normal form, stored in an indexed column so that finding an
existing copy is one index lookup however large the space grows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def normalise_content(content: str) -> str:
    """``content`` case-folded, with whitespace collapsed to single spaces and stripped."""
    return " ".join(content.casefold().split())


def content_fingerprint(content: str) -> str:
    """A 32-hex-digit hash of ``normalise_content(content)``."""
    normal = normalise_content(content).encode("utf-8")
    return hashlib.blake2b(normal, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class ContentKey:
    """What makes two memories the same memory: scope, kind and content fingerprint."""

    kind: str
    user: str | None
    agent: str | None
    session: str | None
    fingerprint: str

    @classmethod
    def of(
        cls, content: str, kind: str, user: str | None, agent: str | None, session: str | None
    ) -> ContentKey:
        return cls(str(kind), user, agent, session, content_fingerprint(content))
