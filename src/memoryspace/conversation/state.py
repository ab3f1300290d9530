"""The typed state of a conversation's records: where a page is, and whether a segment is live.

A page is in short-term memory (``stm``), in a mid-term segment (``mtm``, with the segment's
id) or archived with its evicted segment (``archived``); separately it may be queued for
long-term memory (``lpm``: ``pending``, then ``done``). A segment is live or archived. This
state is a frozen, validated dataclass serialised under the one meta key ``"conversation"``::

    {"v": 1, "place": "mtm", "segment": "<id>", "lpm": "pending"}   # a page
    {"v": 1, "archived": false}                                    # a segment

Why one meta key and not new ``Memory`` columns: ``Memory`` is the record of every structure
(conversation, reader, notes, reflection) and of every backend; a column per structure's state
would grow the store schema, the op log and every backend for one structure. The state is typed
where it is read and written (this module is the only code that reads or writes the key; a
malformed value raises ``InvalidInput`` naming the record) and versioned (``v``), so it can
evolve without a schema migration. What stays a plain meta key is the record's role, which never
changes after creation and which SQL filters select by: ``meta["page"] = True`` on pages,
``meta["segment"] = True`` on segment summaries.

Before this module a page's state was four loose meta keys (``stm``, ``segment``, ``archived``,
``lpm``) plus an ``"archived"`` tag. ``legacy_fields`` turns such a record into the typed form;
a conversation migrates its records when it is loaded (``Conversation._load``), and the GC root
rule reads both forms, so an old database works before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from memoryspace.errors import InvalidInput
from memoryspace.heapview import HeapRecord
from memoryspace.models import Kind, Memory

STATE_KEY = "conversation"
VERSION = 1
LEGACY_PAGE_KEYS = ("stm", "segment", "archived", "lpm")
LEGACY_ARCHIVED_TAG = "archived"


class Place(StrEnum):
    """Where a page is: short-term memory, a live mid-term segment, or the archive."""

    STM = "stm"
    MTM = "mtm"
    ARCHIVED = "archived"


class LPMState(StrEnum):
    """A page's way into long-term memory: queued, then absorbed."""

    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PageState:
    """Where a page is and whether LPM has it. A page in ``mtm`` (or archived from it) names
    its segment; a page in ``stm`` has none yet.

    Raises:
        InvalidInput: a place or LPM state of the wrong type, or a segment on an STM page.
    """

    place: Place = Place.STM
    segment: str | None = None
    lpm: LPMState | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.place, Place):
            raise InvalidInput(f"a page's place is a Place, got {self.place!r}")
        if self.lpm is not None and not isinstance(self.lpm, LPMState):
            raise InvalidInput(f"a page's LPM state is an LPMState or None, got {self.lpm!r}")
        if self.segment is not None and not isinstance(self.segment, str):
            raise InvalidInput(f"a page's segment is an id or None, got {self.segment!r}")
        if self.place is Place.STM and self.segment is not None:
            raise InvalidInput("a page in short-term memory belongs to no segment yet")

    def to_meta(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "place": str(self.place),
            "segment": self.segment,
            "lpm": _str(self.lpm),
        }


@dataclass(frozen=True, slots=True)
class SegmentState:
    """Whether a segment was evicted from mid-term memory (it and its pages stay stored)."""

    archived: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.archived, bool):
            raise InvalidInput(f"a segment's archived flag is a bool, got {self.archived!r}")

    def to_meta(self) -> dict[str, Any]:
        return {"v": VERSION, "archived": self.archived}


def _str(value: LPMState | None) -> str | None:
    return None if value is None else str(value)


def is_page(memory: HeapRecord) -> bool:
    return memory.kind is Kind.TURN and memory.meta.get("page") is True


def is_segment(memory: HeapRecord) -> bool:
    return memory.kind is Kind.SUMMARY and memory.meta.get("segment") is True


def _stored(memory: HeapRecord) -> Mapping[str, Any] | None:
    value = memory.meta.get(STATE_KEY)
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("v") != VERSION:
        raise InvalidInput(
            f"memory {memory.id!r} has a malformed meta[{STATE_KEY!r}] ({value!r}); "
            f"restore it from history({memory.id!r}) or delete the record"
        )
    return value


def page_state(memory: HeapRecord) -> PageState:
    """The state of a conversation page (typed or legacy form).

    Raises:
        InvalidInput: ``memory`` is not a page, or its stored state is malformed.
    """
    if not is_page(memory):
        raise InvalidInput(f"memory {memory.id!r} is not a conversation page")
    stored = _stored(memory)
    try:
        if stored is not None:
            lpm = stored.get("lpm")
            return PageState(
                Place(str(stored.get("place"))),
                stored.get("segment"),
                None if lpm is None else LPMState(lpm),
            )
        meta = memory.meta
        archived = meta.get("archived") is True or LEGACY_ARCHIVED_TAG in memory.tags
        segment = meta.get("segment")
        place = Place.ARCHIVED if archived else Place.STM if meta.get("stm") else Place.MTM
        lpm = meta.get("lpm")
        return PageState(
            place,
            None if place is Place.STM or not isinstance(segment, str) else segment,
            None if lpm is None else LPMState(lpm),
        )
    except ValueError as exc:
        raise InvalidInput(f"memory {memory.id!r} has a malformed page state: {exc}") from None


def segment_state(memory: HeapRecord) -> SegmentState:
    """The state of a segment summary (typed or legacy form).

    Raises:
        InvalidInput: ``memory`` is not a segment, or its stored state is malformed.
    """
    if not is_segment(memory):
        raise InvalidInput(f"memory {memory.id!r} is not a conversation segment")
    stored = _stored(memory)
    if stored is not None:
        return SegmentState(stored.get("archived"))  # type: ignore[arg-type]  # validated
    legacy = memory.meta.get("archived") is True or LEGACY_ARCHIVED_TAG in memory.tags
    return SegmentState(legacy)


def with_state(meta: Mapping[str, Any], state: PageState | SegmentState) -> dict[str, Any]:
    """``meta`` with ``state`` stored (and any legacy state keys dropped)."""
    out = {k: v for k, v in meta.items() if k not in LEGACY_PAGE_KEYS or k == "segment"}
    if isinstance(state, PageState):
        out.pop("segment", None)
    out[STATE_KEY] = state.to_meta()
    return out


def is_legacy(memory: Memory) -> bool:
    """Whether a page or segment still keeps its state in the old loose keys and tag."""
    return (is_page(memory) or is_segment(memory)) and STATE_KEY not in memory.meta


def legacy_fields(memory: Memory) -> dict[str, Any]:
    """The ``update`` fields that move a legacy page's or segment's state to the typed form."""
    state = page_state(memory) if is_page(memory) else segment_state(memory)
    fields: dict[str, Any] = {"meta": with_state(memory.meta, state)}
    if LEGACY_ARCHIVED_TAG in memory.tags:
        fields["tags"] = [tag for tag in memory.tags if tag != LEGACY_ARCHIVED_TAG]
    return fields
