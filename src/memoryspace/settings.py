"""Settings of a ``MemorySpace``: one typed, frozen object with defaults.

Some settings change what every process sharing a database must agree on: how memories rank,
whether ``add`` deduplicates, how many memories are kept, when garbage is collected
(``SHARED_SETTINGS``). Those are stored in the database and merged in this order: the defaults,
then the stored values, then the values a caller passes (a value that differs from the default
counts as passed). A database stores the first non-default value it is opened with; a process
that then passes another value gets ``Conflict`` saying how to change the stored one
(``MemorySpace.configure`` or ``memoryspace config set``). The others (caches, tiers, limits of
one request, durability) belong to each process.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from memoryspace import validate
from memoryspace.errors import Conflict, InvalidInput
from memoryspace.tokens import TokenCounter


@dataclass(frozen=True, slots=True)
class Settings:
    """How a space stores and retrieves.

    ``max_content_chars`` bounds one memory's content. ``ann_threshold`` is the collection size
    above which vector search switches from exact to HNSW. Retrieval takes ``candidates`` hits
    from each of dense and BM25 search, fuses their z-normalised scores with the two weights and
    adds the speaker, exact-phrase, entity-hop, time and session boosts (see
    ``memoryspace.retrieval.hybrid``, ``memoryspace.retrieval.entities`` and
    ``memoryspace.retrieval.when``: ``time_boost`` for memories whose dates meet the time a
    query names, ``when_boost`` for memories that state a time when a query asks "when").
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
    ``reflect_every`` runs ``reflect()`` on the whole space after every that many added
    records (``None``: only when called; see ``memoryspace.reflect``).
    ``max_query_chars`` bounds the text of one search (a longer query costs seconds per search
    and finds nothing better).
    ``vector_index`` picks the dense search provider (``memoryspace.retrieval.dense``):
    ``"memory"`` (an index in each process, following the log), ``"pgvector"`` (PostgreSQL's
    HNSW index answers, with ``hnsw.ef_search = pgvector_ef_search``) or ``"auto"`` (pgvector
    on PostgreSQL, in memory elsewhere).
    ``vector_precision`` is how vectors are kept: in a SQLite database (the ``vectors`` table
    and the op log's copies) and in the in-memory HNSW graph, ``"float16"`` (the default for
    new databases: half the bytes; LoCoMo and HotpotQA recall unchanged, HNSW recall@10 against
    exact search 0.983 vs 0.984 on real MiniLM vectors) or ``"float32"`` (what databases made
    before this default keep). Exact search computes in float32 either way; PostgreSQL stores
    float32. Stored in the database; a change takes effect when the space is next opened
    (vectors stored before keep their precision and stay readable; the saved graph is rebuilt
    once).

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
    entity_boost: float = 1.5
    time_boost: float = 1.5
    when_boost: float = 0.6
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
    reflect_every: int | None = None
    # Dense search: "auto" (pgvector on PostgreSQL, in memory elsewhere), "memory", "pgvector".
    vector_index: Literal["auto", "memory", "pgvector"] = "auto"
    pgvector_ef_search: int = 100
    vector_precision: Literal["float32", "float16"] = "float16"

    def __post_init__(self) -> None:
        if not isinstance(self.durability, str) or self.durability not in ("normal", "full"):
            raise InvalidInput(f"durability must be 'normal' or 'full', got {self.durability!r}")
        if self.vector_index not in ("auto", "memory", "pgvector"):
            raise InvalidInput(
                "Settings.vector_index is 'auto', 'memory' or 'pgvector', "
                f"not {self.vector_index!r}"
            )
        if not isinstance(self.vector_precision, str) or self.vector_precision not in (
            "float32",
            "float16",
        ):
            raise InvalidInput(
                "Settings.vector_precision is 'float32' or 'float16' (int8 is not offered: "
                f"recall@10 0.94 on MiniLM vectors), not {self.vector_precision!r}"
            )
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
            "pgvector_ef_search",
        ):
            validate.positive_int(name, getattr(self, name), high=_MAX_COUNT)
        for name in ("hot_tier_records", "hot_tier_tokens", "max_records", "reflect_every"):
            value = getattr(self, name)
            if value is not None:
                validate.positive_int(name, value, high=_MAX_COUNT)
        for name in (
            "dense_weight",
            "sparse_weight",
            "speaker_boost",
            "session_boost",
            "phrase_boost",
            "entity_boost",
            "time_boost",
            "when_boost",
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


SHARED_SETTINGS = (
    "candidates",
    "dense_weight",
    "sparse_weight",
    "speaker_boost",
    "session_boost",
    "phrase_boost",
    "entity_boost",
    "time_boost",
    "when_boost",
    "min_score",
    "default_importance",
    "dedupe",
    "max_records",
    "gc_trigger",
    "gc_collector",
    "gc_every_seconds",
    "gc_growth_factor",
    "gc_fragmentation",
    "gc_check_every",
    "reflect_every",
    "vector_index",
    "pgvector_ef_search",
    "vector_precision",
)
# Stored in every database even at the default: what its stored vectors are must not change
# when a later version changes the default.
_ALWAYS_STORED = frozenset({"vector_precision"})
_PREFIX = "shared."
_DEFAULTS = Settings()


def setting_key(name: str) -> str:
    """The database settings key that stores the shared setting ``name``."""
    return _PREFIX + name


def merge_stored(
    given: Settings, read: Callable[[str], str | None]
) -> tuple[Settings, dict[str, str]]:
    """``given`` merged with the shared settings a database stores (``read(key)``), and the
    keys and values to store: the non-default values the database does not hold yet (and
    ``vector_precision`` at any value).

    Raises:
        Conflict: ``given`` passes a value that differs from the stored one.
    """
    merged: dict[str, Any] = {}
    to_store: dict[str, str] = {}
    for name in SHARED_SETTINGS:
        value, default = getattr(given, name), getattr(_DEFAULTS, name)
        raw = read(setting_key(name))
        if raw is None:
            if value != default or name in _ALWAYS_STORED:
                to_store[setting_key(name)] = json.dumps(value)
            continue
        stored = json.loads(raw)
        if value != default and value != stored:
            raise Conflict(
                f"this database stores {name}={stored!r}, and every process that opens it uses "
                f"that; open it without {name} (or with {stored!r}), or change the stored value "
                f"with MemorySpace.configure({name}=...) or `memoryspace config set {name} ...`"
            )
        merged[name] = stored
    return dataclasses.replace(given, **merged), to_store


def shared_changes(current: Settings, changes: Mapping[str, Any]) -> Settings:
    """``current`` with ``changes`` to shared settings, validated.

    Raises:
        InvalidInput: a name that is not a shared setting, or a bad value.
    """
    unknown = sorted(set(changes) - set(SHARED_SETTINGS))
    if unknown:
        raise InvalidInput(
            f"{unknown} cannot be stored in the database; shared settings are: "
            f"{', '.join(SHARED_SETTINGS)} (pass the others to Settings when opening)"
        )
    return dataclasses.replace(current, **changes)  # validated by Settings.__post_init__


def shared_values(settings: Settings) -> dict[str, object]:
    """The shared settings of ``settings``, by name."""
    return {name: getattr(settings, name) for name in SHARED_SETTINGS}
