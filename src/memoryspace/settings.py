"""Settings of a ``MemorySpace``: one typed, frozen object with defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from memoryspace.errors import InvalidInput
from memoryspace.tokens import TokenCounter


@dataclass(frozen=True, slots=True)
class Settings:
    """How a space stores and retrieves.

    ``max_content_chars`` bounds one memory's content. ``ann_threshold`` is the collection size
    above which vector search switches from exact to HNSW. Retrieval takes ``candidates`` hits
    from each of dense and BM25 search, fuses their z-normalised scores with the two weights and
    adds the speaker, exact-phrase and session boosts (see ``memoryspace.retrieval.hybrid``).
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

    Raises:
        InvalidInput: ``durability`` is neither ``"normal"`` nor ``"full"``, or ``dedupe``
            neither ``"exact"`` nor ``"off"``.
    """

    max_content_chars: int = 100_000
    ann_threshold: int = 20_000
    candidates: int = 100
    dense_weight: float = 0.5
    sparse_weight: float = 0.5
    speaker_boost: float = 0.6
    session_boost: float = 0.3
    phrase_boost: float = 1.0
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
    token_counter: TokenCounter | None = field(default=None, compare=False)
    dedupe: Literal["exact", "off"] = "exact"

    def __post_init__(self) -> None:
        if not isinstance(self.durability, str) or self.durability not in ("normal", "full"):
            raise InvalidInput(f"durability must be 'normal' or 'full', got {self.durability!r}")
        if self.dedupe not in ("exact", "off"):
            raise InvalidInput(f"Settings.dedupe is 'exact' or 'off', not {self.dedupe!r}")
