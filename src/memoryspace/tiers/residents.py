"""What a hot tier holds, and whether more fits: its resident records and their record and
token counts, pinned ones (locked pages) counted apart."""

from __future__ import annotations

from collections.abc import Sequence

from memoryspace.models import Memory


class Residents:
    """The resident records of a tier by id, with running totals (not thread-safe: the tier's
    lock guards it)."""

    def __init__(self, capacity_records: int | None, capacity_tokens: int | None) -> None:
        self.capacity_records = capacity_records
        self.capacity_tokens = capacity_tokens
        self.records: dict[str, Memory] = {}
        self.tokens = 0
        self._pinned_records = 0
        self._pinned_tokens = 0

    def place(self, memory: Memory) -> None:
        """Hold ``memory`` (its id must not be resident)."""
        self.records[memory.id] = memory
        self.tokens += memory.tokens
        if memory.pinned:
            self._pinned_records += 1
            self._pinned_tokens += memory.tokens

    def unplace(self, id: str) -> Memory:
        """Stop holding ``id`` and return its copy."""
        memory = self.records.pop(id)
        self.tokens -= memory.tokens
        if memory.pinned:
            self._pinned_records -= 1
            self._pinned_tokens -= memory.tokens
        return memory

    def can_hold(self, group: Sequence[Memory]) -> bool:
        """Whether ``group`` fits beside the pinned records (evicting everything else)."""
        records, tokens = self._pinned_records, self._pinned_tokens
        for memory in group:
            old = self.records.get(memory.id)
            if old is not None and old.pinned:
                records, tokens = records - 1, tokens - old.tokens
            records, tokens = records + 1, tokens + memory.tokens
        return self._within(records, tokens)

    def over_capacity(self) -> bool:
        return not self._within(len(self.records), self.tokens)

    def _within(self, records: int, tokens: int) -> bool:
        return (self.capacity_records is None or records <= self.capacity_records) and (
            self.capacity_tokens is None or tokens <= self.capacity_tokens
        )
