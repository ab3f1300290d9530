"""What a garbage collection looks at: a record without its content.

Collectors decide from a record's scope, age, use, importance, generation, pin, strong links and
structure state (``meta``, ``tags``); never from its text or vector. ``HeapEntry`` is that much of a
record, read by ``Store.heap`` with one narrow query, so planning a collection never decodes the
heap's contents; the records a plan then acts on are read in full (``memoryspace.gc.runner``).
``HeapRecord`` is what collectors and root rules accept: a ``HeapEntry`` or a whole ``Memory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from memoryspace.models import Kind, Link


class HeapRecord(Protocol):
    """The fields a collector may read (both ``Memory`` and ``HeapEntry`` have them)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def user(self) -> str | None: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def session(self) -> str | None: ...
    @property
    def meta(self) -> Mapping[str, Any]: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def importance(self) -> float: ...
    @property
    def pinned(self) -> bool: ...
    @property
    def created_at(self) -> float: ...
    @property
    def updated_at(self) -> float: ...
    @property
    def expires_at(self) -> float | None: ...
    @property
    def generation(self) -> int: ...
    @property
    def access_count(self) -> int: ...
    @property
    def last_access(self) -> float | None: ...
    @property
    def version(self) -> int: ...

    def link_ids(self, *, strong: bool | None = None) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class HeapEntry:
    """A live record as a collection sees it: everything but its content and vector."""

    id: str
    kind: Kind
    user: str | None
    agent: str | None
    session: str | None
    meta: Mapping[str, Any]
    tags: tuple[str, ...]
    links: tuple[Link, ...]
    importance: float
    pinned: bool
    created_at: float
    updated_at: float
    expires_at: float | None
    generation: int
    access_count: int
    last_access: float | None
    version: int

    def link_ids(self, *, strong: bool | None = None) -> list[str]:
        """The ids this record links to (only strong or only weak links, if asked)."""
        return [link.id for link in self.links if strong is None or link.strong is strong]
