"""``ContextWindow``: the LLM's context as a token heap.

The window is a fixed budget of tokens laid out as an ordered list of slots. A slot holds one
memory record or is a hole; slots lie back to back from offset 0, and the free space after the
last slot is the tail. Freeing a record leaves a hole (merged with neighbouring holes of its
region); an allocator chooses which hole a new record goes into (first, best, next or prefix
fit), else it is appended at the end of its region; compaction closes every hole.

Slots are grouped in regions laid out in a fixed order: ``pinned`` (pinned records, persona),
``stable`` (the old generation: facts, summaries, notes, procedures) and ``volatile`` (recent
turns, working memory, plans). The prompt is the records in slot order, and a hole renders as
nothing, so:

* a record that stays where it is renders byte-identically from turn to turn, and so does every
  record before the first change — the part an LLM server's prefix cache reuses;
* compaction never changes the rendered text; it only turns scattered holes into tail space;
* filling a hole that lies *before* the first change of a turn moves that change earlier. The
  ``prefix_fit`` allocator therefore only fills holes at or after the first change, and appends
  otherwise.

Not thread-safe: keep one window per conversation (or guard it with a lock).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from memoryspace.context.allocators import Allocator, FreeBlock, make_allocator
from memoryspace.context.regions import (
    REGION_RANK,
    Region,
    RegionClassifier,
    SizeOf,
    default_region,
    default_size,
)
from memoryspace.errors import InvalidInput, NotFound, WindowFull
from memoryspace.models import Memory


@dataclass(frozen=True, slots=True)
class Slot:
    """One slot of the layout: a record, or a hole when ``memory`` is ``None``."""

    offset: int
    size: int
    region: Region
    memory: Memory | None = None

    @property
    def is_hole(self) -> bool:
        return self.memory is None

    @property
    def id(self) -> str | None:
        return None if self.memory is None else self.memory.id


@dataclass(slots=True)
class WindowStats:
    """Counters of what a window did since it was made."""

    placements: int = 0
    hole_fills: int = 0
    appends: int = 0
    frees: int = 0
    moves: int = 0  # records re-placed because they changed or changed region
    drops: int = 0  # wanted records that did not fit the budget
    compactions: int = 0
    forced_compactions: int = 0  # compactions because no hole and no tail space fitted


@dataclass(frozen=True, slots=True)
class Layout:
    """The window after ``update``: its slots in order, and what the update did."""

    slots: tuple[Slot, ...]
    placed: tuple[str, ...] = ()
    freed: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    retained: tuple[str, ...] = ()  # placed, no longer wanted, kept by ``retain``
    compacted: bool = False

    @property
    def records(self) -> list[Memory]:
        return [slot.memory for slot in self.slots if slot.memory is not None]


@dataclass(slots=True)
class _Entry:
    size: int
    region: Region
    memory: Memory | None = None
    dirty: bool = False  # the rendered prompt changed at this slot during the current update
    fingerprint: tuple[object, ...] = field(default=())


def _fingerprint(memory: Memory) -> tuple[object, ...]:
    return (memory.content, memory.kind, memory.pinned, memory.created_at, memory.updated_at)


class ContextWindow:
    """A fixed token budget holding memory records as an ordered layout of slots.

    ``update(wanted)`` is the per-turn call: records still wanted stay where they are, the rest
    are freed, new ones are placed by the allocator, and the window is compacted once more than
    ``compact_threshold`` of the budget is fragmented. With ``retain > 0``, a record stays up
    to ``retain`` updates after it was last wanted, in the tokens the wanted ones leave free
    (those nearest the start are kept first): the prompt grows and more of it stays the same,
    but on the LoCoMo replay the tokens to recompute grew too (see ``bench.context_replay``).
    The slots never hold more than ``budget_tokens`` tokens, holes included.

    Raises:
        InvalidInput: a budget below 1, a threshold outside [0, 1] or an unknown allocator.
    """

    def __init__(
        self,
        budget_tokens: int,
        allocator: str | Allocator = "first_fit",
        *,
        classify: RegionClassifier = default_region,
        size: SizeOf = default_size,
        compact_threshold: float = 0.25,
        retain: int = 0,
    ) -> None:
        if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int):
            raise InvalidInput(f"budget_tokens must be an int, got {budget_tokens!r}")
        if budget_tokens < 1:
            raise InvalidInput(f"budget_tokens must be at least 1, got {budget_tokens}")
        if not 0.0 <= compact_threshold <= 1.0:
            raise InvalidInput(f"compact_threshold must be in [0, 1], got {compact_threshold}")
        if isinstance(retain, bool) or not isinstance(retain, int) or retain < 0:
            raise InvalidInput(f"retain must be a number of updates >= 0, got {retain!r}")
        self.budget_tokens = budget_tokens
        self.allocator = make_allocator(allocator)
        self.classify = classify
        self.size_of = size
        self.compact_threshold = compact_threshold
        self.retain = retain
        self.stats = WindowStats()
        self._entries: list[_Entry] = []
        self._turn = 0  # updates so far
        self._wanted_at: dict[str, int] = {}  # id -> the update that last wanted it

    # -- reading

    def layout(self) -> list[Slot]:
        """Every slot, holes included, with its offset."""
        slots, offset = [], 0
        for entry in self._entries:
            slots.append(Slot(offset, entry.size, entry.region, entry.memory))
            offset += entry.size
        return slots

    def records(self) -> list[Memory]:
        """The placed records in render order."""
        return [entry.memory for entry in self._entries if entry.memory is not None]

    def holes(self) -> list[Slot]:
        return [slot for slot in self.layout() if slot.is_hole]

    def __contains__(self, memory_id: object) -> bool:
        return self._find(memory_id) is not None

    def __len__(self) -> int:
        return sum(1 for entry in self._entries if entry.memory is not None)

    @property
    def used_tokens(self) -> int:
        """Tokens held by records."""
        return sum(entry.size for entry in self._entries if entry.memory is not None)

    @property
    def free_tokens(self) -> int:
        """Tokens not held by records: holes plus tail."""
        return self.budget_tokens - self.used_tokens

    @property
    def tail_tokens(self) -> int:
        """Free tokens after the last slot."""
        return self.budget_tokens - sum(entry.size for entry in self._entries)

    def fragmentation(self) -> float:
        """Free tokens in blocks too small for the median record, as a share of the budget.

        The free blocks are the holes and the tail; an empty window is not fragmented.
        """
        sizes = [entry.size for entry in self._entries if entry.memory is not None]
        if not sizes:
            return 0.0
        median = statistics.median(sizes)
        blocks = [entry.size for entry in self._entries if entry.memory is None]
        blocks.append(self.tail_tokens)
        return sum(block for block in blocks if block < median) / self.budget_tokens

    # -- changing

    def place(self, memory: Memory, *, size: int | None = None) -> Slot:
        """Put ``memory`` into a hole of its region the allocator picks, else at the region's end.

        Compacts first when neither a hole nor the tail can hold it but the free tokens can.

        Raises:
            InvalidInput: the record is already placed, or ``size`` is below 1.
            WindowFull: fewer free tokens than the record needs.
        """
        if memory.id in self:
            raise InvalidInput(f"memory {memory.id} is already in the window; free it first")
        need = self.size_of(memory) if size is None else size
        if need < 1:
            raise InvalidInput(f"a record takes at least 1 token, got {need} for {memory.id}")
        if need > self.free_tokens:
            raise WindowFull(
                f"memory {memory.id} needs {need} tokens, the window has {self.free_tokens} "
                f"of {self.budget_tokens} free; free records or use a larger budget"
            )
        region = self.classify(memory)
        entry = _Entry(need, region, memory, dirty=True, fingerprint=_fingerprint(memory))
        index = self._choose_hole(entry)
        if index is not None:
            index = self._split(index, entry)
            self.stats.hole_fills += 1
        else:
            index = self._append(entry)
            if index is None:
                self.stats.forced_compactions += 1
                self.compact()
                index = self._append(entry)
                assert index is not None, "after compaction the tail holds every free token"
        offset = sum(e.size for e in self._entries[:index])
        self.allocator.placed(offset, need)
        self.stats.placements += 1
        self._wanted_at[memory.id] = self._turn
        return Slot(offset, need, region, memory)

    def free(self, memory_id: str) -> Slot:
        """Remove a record, leaving a hole (or tail space, if it was last); the hole is returned.

        Raises:
            NotFound: no record with that id is in the window.
        """
        index = self._find(memory_id)
        if index is None:
            raise NotFound(f"memory {memory_id} is not in the window")
        entry = self._entries[index]
        entry.memory, entry.fingerprint, entry.dirty = None, (), True
        self._wanted_at.pop(memory_id, None)
        self.stats.frees += 1
        for neighbour in (index + 1, index):  # merge the right neighbour, then into the left
            if 0 < neighbour < len(self._entries):
                left, right = self._entries[neighbour - 1], self._entries[neighbour]
                if left.memory is None and right.memory is None and left.region == right.region:
                    left.size += right.size
                    left.dirty = True
                    del self._entries[neighbour]
                    index = neighbour - 1
        hole = self.layout()[index]
        while self._entries and self._entries[-1].memory is None:  # trailing holes are tail
            self._entries.pop()
        return hole

    def compact(self) -> int:
        """Close every hole (records keep their order, so the rendered text is unchanged).

        Returns the hole tokens moved to the tail.
        """
        kept: list[_Entry] = []
        reclaimed, carry_dirty = 0, False
        for entry in self._entries:
            if entry.memory is None:
                reclaimed += entry.size
                carry_dirty = carry_dirty or entry.dirty
                continue
            entry.dirty = entry.dirty or carry_dirty
            carry_dirty = False
            kept.append(entry)
        self._entries = kept
        if reclaimed:
            self.stats.compactions += 1
        return reclaimed

    def update(self, wanted: Sequence[Memory], *, size: SizeOf | None = None) -> Layout:
        """Make the window hold ``wanted`` (best first), disturbing as little of it as possible.

        Records already placed and unchanged stay in their slots. Wanted records are admitted
        best first while their tokens fit the budget (one that does not fit is dropped and the
        next is tried). Placed records not admitted (and not retained, see ``retain``), or
        changed since they were placed, are freed; new ones are placed with the allocator.
        ``size`` overrides the window's size function for records placed now (e.g. the token
        count of their rendered text).
        """
        size_of = size or self.size_of
        self._turn += 1
        for entry in self._entries:
            entry.dirty = False
        placed_at = {e.memory.id: e for e in self._entries if e.memory is not None}
        admitted: list[tuple[Memory, int]] = []
        dropped: list[str] = []
        seen: set[str] = set()
        stale: set[str] = set()
        used = 0
        for memory in wanted:
            if memory.id in seen:
                continue
            seen.add(memory.id)
            current = placed_at.get(memory.id)
            if current is not None and (
                current.fingerprint != _fingerprint(memory)
                or current.region != self.classify(memory)
            ):
                stale.add(memory.id)
                current = None
            need = current.size if current is not None else size_of(memory)
            if used + need <= self.budget_tokens:
                admitted.append((memory, need))
                used += need
            else:
                dropped.append(memory.id)
        keep = {memory.id for memory, _ in admitted if memory.id in placed_at} - stale
        for memory, _ in admitted:
            self._wanted_at[memory.id] = self._turn
        retained = self._retained(keep | stale, self.budget_tokens - used)
        keep.update(retained)
        freed = [ref for ref in placed_at if ref not in keep]
        for ref in freed:
            self.free(ref)
        placed = []
        for memory, need in admitted:
            if memory.id not in keep:
                self.place(memory, size=need)
                placed.append(memory.id)
        self.stats.moves += sum(1 for ref in stale if ref in placed)
        self.stats.drops += len(dropped)
        compacted = self.fragmentation() > self.compact_threshold and self.compact() > 0
        return Layout(
            tuple(self.layout()),
            tuple(placed),
            tuple(freed),
            tuple(dropped),
            tuple(retained),
            compacted,
        )

    def clear(self) -> None:
        """Free everything (the next update starts from an empty window)."""
        self._entries.clear()
        self._wanted_at.clear()

    def _retained(self, excluded: set[str], room: int) -> list[str]:
        """Unwanted records young enough to keep, front first, in ``room`` tokens."""
        if not self.retain:
            return []
        kept = []
        for entry in self._entries:
            memory = entry.memory
            if memory is None or memory.id in excluded:
                continue
            age = self._turn - self._wanted_at.get(memory.id, self._turn)
            if age <= self.retain and entry.size <= room:
                kept.append(memory.id)
                room -= entry.size
        return kept

    # -- internals

    def _find(self, memory_id: object) -> int | None:
        for index, entry in enumerate(self._entries):
            if entry.memory is not None and entry.memory.id == memory_id:
                return index
        return None

    def _region_bounds(self, region: Region) -> tuple[int, int]:
        rank = REGION_RANK[region]
        start = sum(1 for e in self._entries if REGION_RANK[e.region] < rank)
        end = start + sum(1 for e in self._entries if e.region == region)
        return start, end

    def _choose_hole(self, entry: _Entry) -> int | None:
        start, end = self._region_bounds(entry.region)
        first_change = next((i for i, e in enumerate(self._entries) if e.dirty), len(self._entries))
        holes, offset = [], sum(e.size for e in self._entries[:start])
        for index in range(start, end):
            candidate = self._entries[index]
            if candidate.memory is None:
                holes.append(FreeBlock(index, offset, candidate.size, index >= first_change))
            offset += candidate.size
        chosen = self.allocator.choose(holes, entry.size) if holes else None
        if chosen is None:
            return None
        if chosen.size < entry.size or self._entries[chosen.index].memory is not None:
            raise InvalidInput(f"allocator {self.allocator.name} chose a hole that does not fit")
        return chosen.index

    def _append(self, entry: _Entry) -> int | None:
        """Put ``entry`` at the end of its region (growing a trailing hole); None if no room."""
        _, end = self._region_bounds(entry.region)
        last = self._entries[end - 1] if end > 0 else None
        if last is not None and last.memory is None and last.region == entry.region:
            if entry.size - last.size > self.tail_tokens:
                return None
            self.stats.appends += 1
            if last.size > entry.size:
                return self._split(end - 1, entry)
            self._entries[end - 1] = entry
            return end - 1
        if entry.size > self.tail_tokens:
            return None
        self._entries.insert(end, entry)
        self.stats.appends += 1
        return end

    def _split(self, index: int, entry: _Entry) -> int:
        """Put ``entry`` at the start of the hole at ``index``; the rest stays a hole."""
        hole = self._entries[index]
        hole.size -= entry.size
        hole.dirty = True
        self._entries.insert(index, entry)
        if hole.size == 0:
            del self._entries[index + 1]
        return index
