"""GC roots that agent structures register, so the collector knows no structure's fields.

A root rule looks at the records a collection reads and names the ids that must stay alive
(a conversation's short-term pages and live segments, say). Everything a root reaches through
strong links and dialogue chains stays alive too (``memoryspace.gc.collectors.reachable``).
``MemorySpace`` registers the rules of the structures it ships; ``ms.gc_roots.register`` adds
more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from memoryspace.errors import InvalidInput
from memoryspace.heapview import HeapRecord

RootRule = Callable[[Sequence[HeapRecord]], Iterable[str]]


class Roots:
    """Named root rules."""

    def __init__(self) -> None:
        self._rules: dict[str, RootRule] = {}

    def register(self, name: str, rule: RootRule) -> None:
        """Add (or replace) the rule ``name``.

        Raises:
            InvalidInput: an empty name or a rule that is not callable.
        """
        if not isinstance(name, str) or not name:
            raise InvalidInput("a root rule needs a non-empty name")
        if not callable(rule):
            raise InvalidInput(f"root rule {name!r} must be callable")
        self._rules[name] = rule

    def unregister(self, name: str) -> None:
        self._rules.pop(name, None)

    @property
    def names(self) -> list[str]:
        return sorted(self._rules)

    def ids(self, memories: Sequence[HeapRecord]) -> set[str]:
        """The ids every rule keeps alive among ``memories``."""
        out: set[str] = set()
        for rule in self._rules.values():
            out.update(rule(memories))
        return out
