"""``WindowView``: a read-only snapshot of one ``ContextWindow``, for dashboards and reports.

A window is mutable and not thread-safe; a view copies what a person wants to see (each slot's
offset, size, region and record id, holes included, and the window's fragmentation) so it can be
handed to another thread or serialised while the window goes on changing.
"""

from __future__ import annotations

from dataclasses import dataclass

from memoryspace.context.window import ContextWindow


@dataclass(frozen=True, slots=True)
class WindowSlot:
    """One slot: a record's id, or ``None`` for a hole."""

    offset: int
    size: int
    region: str
    id: str | None


@dataclass(frozen=True, slots=True)
class WindowView:
    """One scope's window: its budget, use, fragmentation and slots in order."""

    user: str | None
    agent: str | None
    session: str | None
    budget: int
    used: int
    tail: int
    fragmentation: float
    slots: tuple[WindowSlot, ...]

    @classmethod
    def of(
        cls, window: ContextWindow, user: str | None, agent: str | None, session: str | None
    ) -> WindowView:
        """A snapshot of ``window``, the window of that scope (call it under the window's lock)."""
        return cls(
            user=user,
            agent=agent,
            session=session,
            budget=window.budget_tokens,
            used=window.used_tokens,
            tail=window.tail_tokens,
            fragmentation=window.fragmentation(),
            slots=tuple(
                WindowSlot(slot.offset, slot.size, str(slot.region), slot.id)
                for slot in window.layout()
            ),
        )
