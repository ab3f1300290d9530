"""Settings of a ``MemorySpace``: one typed, frozen object with defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from memoryspace import validate
from memoryspace.errors import InvalidInput
from memoryspace.tokens import TokenCounter


@dataclass(frozen=True, slots=True)
class Settings:
    """How a space stores and retrieves.

    ``max_content_chars`` bounds one memory's content. ``ann_threshold`` is the collection size
    above which vector search switches from exact to HNSW. Retrieval takes ``candidates`` hits
    from each of dense and BM25 search, fuses their z-normalised scores with the two weights and
    adds the speaker, exact-phrase and session boosts (see ``memoryspace.retrieval.hybrid``).
    ``min_score`` is the default relevance threshold of ``search``, ``context`` and
    ``forget(query)``: hits scoring below it (on the [0, 1] scale of ``SearchHit.score``) are
    left out; 0.1 keeps every evidence hit of the LoCoMo and HotpotQA dev samples (MiniLM)
    while most queries about subjects a store never mentions return nothing.
    ``token_counter`` counts tokens for ``Memory.tokens`` and context budgets; ``None`` is the
    offline cl100k tokenizer when the ``tokens`` extra is installed, else about chars / 4.
    ``hot_tier_records`` and/or ``hot_tier_tokens`` put a ``HotTier`` of at most that many
    records and/or tokens in front of the store (both ``None``: no tier), with replacement
    policy ``hot_tier_policy``, ``hot_tier_write_policy`` (``"write_through"`` or
    ``"write_back"``) and read-ahead ``hot_tier_promotion_batch``.
    ``gc_trigger`` turns on automatic garbage collection (``None``: the caller runs ``gc()``):
    ``"periodic"`` every ``gc_every_seconds``, ``"growth"`` when the live records grew
    ``gc_growth_factor`` times since the last collection, ``"fragmentation"`` when a context
    window's fragmentation reaches ``gc_fragmentation``, or ``"bandit"`` (epsilon-greedy among
    the three). The space looks every ``gc_check_every`` added records and collects with
    ``gc_collector`` (see ``memoryspace.gc.auto``).
    ``max_records`` bounds the live memories: when an add takes the space past it, the space
    collects with ``BoundedCollector`` (least recently used first; pinned and rooted memories
    stay) down to ``max_records`` minus a headroom of ``max(1, max_records // 16)``, so one
    collection frees a batch (see ``memoryspace.gc.bounded``).
    ``durability`` is ``"normal"`` (SQLite ``synchronous=NORMAL``: a committed write survives a
    process crash; the last ones may be lost on power loss) or ``"full"`` (``synchronous=FULL``:
    a committed write also survives power loss, at the cost of an fsync per commit).
    ``dedupe="exact"`` makes ``add`` of content a live memory of the same scope and kind already
    holds (equal after case folding and collapsing whitespace) return that memory, renewed,
    instead of storing a copy; turns and records given an explicit ``id`` are exempt (see
    ``memoryspace.dedupe``). ``"off"`` stores every ``add``.
    ``max_query_chars`` bounds the text of one search (a longer query costs seconds per search
    and finds nothing better).

    Raises:
        InvalidInput: a value of the wrong type or out of range (``durability`` is ``"normal"``
            or ``"full"``, ``dedupe`` ``"exact"`` or ``"off"``). Policy, trigger and collector
            names are checked when a space is opened with them.
    """

    max_content_chars: int = 100_000
    ann_threshold: int = 20_000
    candidates: int = 100
    dense_weight: float = 0.5
    sparse_weight: float = 0.5
    speaker_boost: float = 0.6
    session_boost: float = 0.3
    phrase_boost: float = 1.0
    min_score: float = 0.1
    default_importance: float = 0.5
    access_flush_every: int = 1024
    index_save_every: int = 10_000
    hot_tier_records: int | None = None
    hot_tier_tokens: int | None = None
    hot_tier_policy: str = "lru"
    hot_tier_write_policy: str = "write_through"
    hot_tier_promotion_batch: int = 1
    gc_trigger: str | None = None
    gc_collector: str = "generational"
    gc_every_seconds: float = 3600.0
    gc_growth_factor: float = 2.0
    gc_fragmentation: float = 0.5
    gc_check_every: int = 64
    max_records: int | None = None
    durability: str = "normal"
    max_query_chars: int = 10_000
    token_counter: TokenCounter | None = field(default=None, compare=False)
    dedupe: Literal["exact", "off"] = "exact"

    def __post_init__(self) -> None:
        if not isinstance(self.durability, str) or self.durability not in ("normal", "full"):
            raise InvalidInput(f"durability must be 'normal' or 'full', got {self.durability!r}")
        if self.dedupe not in ("exact", "off"):
            raise InvalidInput(f"Settings.dedupe is 'exact' or 'off', not {self.dedupe!r}")
        for name in (
            "max_content_chars",
            "ann_threshold",
            "candidates",
            "access_flush_every",
            "index_save_every",
            "hot_tier_promotion_batch",
            "gc_check_every",
            "max_query_chars",
        ):
            validate.positive_int(name, getattr(self, name), high=_MAX_COUNT)
        for name in ("hot_tier_records", "hot_tier_tokens", "max_records"):
            value = getattr(self, name)
            if value is not None:
                validate.positive_int(name, value, high=_MAX_COUNT)
        for name in (
            "dense_weight",
            "sparse_weight",
            "speaker_boost",
            "session_boost",
            "phrase_boost",
        ):
            _number(name, getattr(self, name), low=0.0, high=1e6)
        validate.importance(self.default_importance)
        _number("gc_every_seconds", self.gc_every_seconds, low=1e-9, high=validate.MAX_TIME)
        _number("gc_growth_factor", self.gc_growth_factor, low=1.0, high=1e6)
        _number("gc_fragmentation", self.gc_fragmentation, low=0.0, high=1.0)
        for name in ("hot_tier_policy", "hot_tier_write_policy", "gc_collector"):
            validate.name(name, getattr(self, name))
        validate.optional_name("gc_trigger", self.gc_trigger)
        if self.token_counter is not None and not callable(self.token_counter):
            raise InvalidInput(
                "token_counter must be a function from text to a number of tokens, or None"
            )


_MAX_COUNT = 2**40


def _number(name: str, value: object, *, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(
            f"Settings.{name} must be a number from {low:g} to {high:g}, got {value!r}"
        )
