"""Fuzzing the public facade with wrong types and extreme values.

Every call either succeeds or raises a ``MemorySpaceError``; a rejected call leaves the LSN,
the number of memories and the bytes of the database files (``.db``, ``.db-wal``, the vector
index, the checkpoints) exactly as they were. The space is a real SQLite file in a temporary
directory; each hypothesis example opens a fresh one and makes a sequence of calls.

``MEMORYSPACE_FUZZ_EXAMPLES`` raises the number of examples (default 20, about 25 calls each).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from memoryspace import (
    Filter,
    HashingEmbedder,
    MemorySpace,
    MemorySpaceError,
    Settings,
)

EXAMPLES = int(os.environ.get("MEMORYSPACE_FUZZ_EXAMPLES", "20"))
START = 1_700_000_000.0


def _loop() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


EXTREMES: list[Any] = [
    0,
    -1,
    2**63,
    -(2**63) - 1,
    10**30,
    10**400,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e-308,
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "ok\udfffok",
    "x" * 300,
    "y" * 10_001,
    "z" * 1_000_001,
    b"bytes",
    b"\xff\xfe",
    bytearray(b"ba"),
    1j,
    (1, 2),
    {1, 2},
    frozenset({"a"}),
    [1, 2],
    ["a", 1],
    {1: "a"},
    {"a": math.nan},
    {"a": {1, 2}},
    {"\ud800": 1},
    _nested(40),
    _nested(200),
    _loop(),
    object(),
    print,
    Path("relative"),
    "daily\n",
    "../escape",
    ".hidden",
]

JUNK: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(EXTREMES),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=8),
    st.text(max_size=8),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)
        ),
        max_leaves=8,
    ),
)


@dataclass(frozen=True)
class Existing:
    """An id of a memory stored earlier in the example (resolved when the call is made)."""

    index: int


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly sensible values, often junk."""
    return st.one_of(valid, valid, JUNK)


IDS = maybe(st.builds(Existing, st.integers(0, 50)) | st.just("no-such-id"))
CONTENT = maybe(st.sampled_from(["I like green tea", "The cat is called Miso", "bytes ok"]))
SCOPE = maybe(st.sampled_from(["u1", "u2", "s1", None]))
TAGS = maybe(st.lists(st.sampled_from(["vip", "work", "home"]), max_size=3))
QUERY = maybe(st.sampled_from(["tea", "cat Miso", "where"]))
KIND = maybe(st.sampled_from(["turn", "fact", "note", ["fact", "turn"]]))
TIME = maybe(st.floats(START - 1e6, START + 1e6))
FLAG = maybe(st.booleans())
COUNT = maybe(st.integers(0, 30))
META = maybe(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2))
CHECKPOINT = maybe(st.sampled_from(["cp1", "cp2"]))


def fields(
    strategies: dict[str, st.SearchStrategy[Any]],
    *,
    required: dict[str, st.SearchStrategy[Any]] | None = None,
    open_ended: bool = False,
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments: ``required`` ones and any subset of ``strategies``, and for methods
    that take ``**fields`` sometimes an unknown one. (Misspelled keywords of the other methods
    are Python's ``TypeError``, as for any function.)"""
    optional = {**strategies, "bogus": JUNK} if open_ended else strategies
    return st.fixed_dictionaries(required or {}, optional=optional)


MEMORY_FIELDS = {
    "user": SCOPE,
    "agent": SCOPE,
    "session": SCOPE,
    "kind": KIND,
    "meta": META,
    "tags": TAGS,
    "links": maybe(
        st.lists(
            st.sampled_from(["a", {"id": "b", "type": "supports"}, {"id": "c", "strong": True}]),
            max_size=3,
        )
    ),
    "pinned": FLAG,
    "ttl": maybe(st.floats(1, 1e6)),
    "timestamp": TIME,
    "importance": maybe(st.floats(0, 1)),
    "valid_from": TIME,
    "valid_to": TIME,
}
FILTERS = {
    "user": SCOPE,
    "session": SCOPE,
    "kind": KIND,
    "tags": TAGS,
    "since": TIME,
    "until": TIME,
    "valid_at": TIME,
    "meta": META,
    "pinned": maybe(st.sampled_from([True, False, None])),
    "include_expired": FLAG,
    "include_archived": FLAG,
}
EDIT_FIELDS = {**{k: v for k, v in MEMORY_FIELDS.items() if k != "timestamp"}, "content": CONTENT}

Args = tuple[tuple[Any, ...], dict[str, Any]]


def call(
    *positional: st.SearchStrategy[Any],
    required: dict[str, st.SearchStrategy[Any]] | None = None,
    open_ended: bool = False,
    **keywords: st.SearchStrategy[Any],
) -> Any:
    return st.tuples(
        st.tuples(*positional), fields(keywords, required=required, open_ended=open_ended)
    )


def open_call(
    *positional: st.SearchStrategy[Any],
    required: dict[str, st.SearchStrategy[Any]] | None = None,
    **keywords: st.SearchStrategy[Any],
) -> Any:
    """A call of a method that takes ``**fields``: an unknown keyword is its to reject."""
    return call(*positional, required=required, open_ended=True, **keywords)


CALLS: dict[str, st.SearchStrategy[Args]] = {
    "add": open_call(CONTENT, **MEMORY_FIELDS, id=maybe(st.uuids().map(str)), actor=SCOPE),
    "add_many": st.tuples(
        st.tuples(
            maybe(
                st.lists(
                    CONTENT | st.fixed_dictionaries({"content": CONTENT}, optional=MEMORY_FIELDS),
                    max_size=4,
                )
            )
        ),
        fields({"actor": SCOPE}),
    ),
    "update": open_call(IDS, **EDIT_FIELDS, actor=SCOPE, if_version=maybe(st.integers(0, 40))),
    "pin": call(IDS, actor=SCOPE),
    "unpin": call(IDS, actor=SCOPE),
    "delete": call(maybe(IDS | st.lists(IDS, max_size=3)), actor=SCOPE),
    "forget": open_call(maybe(st.none() | QUERY), k=COUNT, all=FLAG, actor=SCOPE, **FILTERS),
    "get": call(IDS),
    "get_many": call(maybe(st.lists(IDS, max_size=3))),
    "search": open_call(QUERY, k=COUNT, touch=FLAG, **FILTERS),
    "context": open_call(
        QUERY,
        required={"budget": maybe(st.integers(1, 500))},
        k=COUNT,
        format=maybe(st.sampled_from(["text", "messages"])),
        **FILTERS,
    ),
    "scan": open_call(limit=maybe(st.none() | COUNT), offset=COUNT, newest_first=FLAG, **FILTERS),
    "count": open_call(**FILTERS),
    "gc": open_call(
        maybe(st.sampled_from(["generational", "mark_sweep", "ttl", "bounded"])),
        dry_run=FLAG,
        policy=JUNK,
        young_age=maybe(st.floats(0, 1e5)),
        cold_after=maybe(st.floats(0, 1e5)),
        importance_threshold=maybe(st.floats(0, 1)),
        major=FLAG,
        sessions=maybe(st.sets(st.sampled_from(["s1", "s2"]))),
        idle_after=maybe(st.floats(0, 1e5)),
        max_records=maybe(st.integers(1, 10)),
        target=maybe(st.integers(0, 10)),
        per=maybe(st.sampled_from(["space", "user"])),
    ),
    "history": call(IDS),
    "changes": call(maybe(st.integers(0, 40)), limit=maybe(st.none() | COUNT)),
    "checkpoint": call(CHECKPOINT, overwrite=FLAG),
    "checkpoints": call(),
    "restore": call(maybe(st.none() | CHECKPOINT), to_lsn=maybe(st.integers(0, 40)), actor=SCOPE),
    "as_of": call(maybe(st.integers(0, 40))),
    "conversation": call(required={"user": SCOPE}, agent=SCOPE, settings=JUNK),
    "stats": call(),
    "flush": call(),
    "open": call(
        # Paths that name real places belong to the failure-path tests; here the types.
        st.sampled_from(["other.db", "", "a\x00b", "\ud800.db", None, 7, b"m.db", 1.5, ["m"]]),
        embedder=maybe(st.just("hashing")),
        settings=JUNK | st.builds(Settings, hot_tier_records=st.integers(1, 3)),
        clock=JUNK,
    ),
    "Settings": st.tuples(
        st.just(()),
        st.fixed_dictionaries(
            {},
            optional={
                "max_content_chars": maybe(st.integers(1, 10**6)),
                "candidates": maybe(st.integers(1, 100)),
                "dense_weight": maybe(st.floats(0, 1)),
                "hot_tier_records": maybe(st.integers(1, 100)),
                "hot_tier_write_policy": JUNK,
                "gc_trigger": JUNK,
                "max_query_chars": maybe(st.integers(1, 10**5)),
                "max_records": maybe(st.integers(1, 100)),
                "token_counter": JUNK,
            },
        ),
    ),
}


@dataclass
class Tally:
    """What the calls of this module did, printed when its tests are done."""

    calls: int = 0
    rejected: int = 0
    violations: list[str] = field(default_factory=list)


TALLY = Tally()
STRICT = True  # False: count violations instead of failing at the first (for measurements)


@pytest.fixture(scope="module", autouse=True)
def report_tally(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None and TALLY.calls:
        with capture.global_and_fixture_disabled():
            print(
                f"\nfuzz: {TALLY.calls} calls, {TALLY.rejected} rejected, "
                f"{len(TALLY.violations)} violations"
            )


def resolve(value: Any, ids: list[str]) -> Any:
    if isinstance(value, Existing):
        return ids[value.index % len(ids)] if ids else "no-such-id"
    if isinstance(value, list) and any(isinstance(v, Existing) for v in value):
        return [resolve(v, ids) for v in value]
    return value


def digest(folder: Path) -> dict[str, str]:
    """A hash of every file the space keeps (the shared-memory index is scratch, not data)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and not p.name.endswith("-shm")
        and not str(p.relative_to(folder)).startswith("other.db")
    }


def invoke(
    ms: MemorySpace, folder: Path, name: str, args: tuple[Any, ...], kw: dict[str, Any]
) -> Any:
    """Make one call; returns what it returned (iterators consumed, opened spaces closed)."""
    if name == "Settings":
        return Settings(*args, **kw)
    if name == "open":
        path = folder / "other.db" if args[0] == "other.db" else args[0]
        here = os.getcwd()
        os.chdir(folder)  # a junk path that is wrongly accepted must not land in the repository
        try:
            with MemorySpace.open(path, **kw):
                return None
        finally:
            os.chdir(here)
    result = getattr(ms, name)(*args, **kw)
    if name == "scan":
        return list(result)
    if name == "as_of":
        result.close()
    return result


@pytest.mark.parametrize(
    "space_settings",
    [
        Settings(),
        Settings(hot_tier_records=4),
        Settings(hot_tier_records=4, hot_tier_write_policy="write_back"),
    ],
    ids=["store", "write-through-tier", "write-back-tier"],
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The failing call is named in the assertion; shrinking a sequence of real database calls
    # takes minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    calls=st.lists(
        st.sampled_from(sorted(CALLS)).flatmap(lambda n: st.tuples(st.just(n), CALLS[n])),
        min_size=10,
        max_size=40,
    )
)
def test_every_call_succeeds_or_is_rejected_without_a_trace(
    space_settings: Settings, calls: list[tuple[str, Args]]
) -> None:
    now = [START]

    def clock() -> float:
        now[0] += 1.0
        return now[0]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ms = MemorySpace.open(
            folder / "m.db", embedder=HashingEmbedder(), settings=space_settings, clock=clock
        )
        ids = [m.id for m in ms.add_many([f"seed memory {i} about tea" for i in range(5)])]
        try:
            for name, (raw_args, raw_kw) in calls:
                args = tuple(resolve(a, ids) for a in raw_args)
                kw = {k: resolve(v, ids) for k, v in raw_kw.items()}
                check_one_call(ms, folder, ids, name, args, kw)
        finally:
            ms.close()


def observe(ms: MemorySpace, folder: Path) -> tuple[int, int, dict[str, str]]:
    """Count, LSN and file digests, after writing back a write-back tier's dirty records.

    Calls that read the store through SQL write them back first (read-your-writes), also when
    they are then refused for what the store holds (a missing checkpoint, an LSN past the end);
    that is the tier's rule, not bad input, so each call starts with none dirty."""
    ms.flush()
    count = ms.store.count(Filter(include_expired=True, include_archived=True))
    return count, ms.lsn, digest(folder)


def check_one_call(
    ms: MemorySpace,
    folder: Path,
    ids: list[str],
    name: str,
    args: tuple[Any, ...],
    kw: dict[str, Any],
) -> None:
    before = observe(ms, folder)
    TALLY.calls += 1
    try:
        result = invoke(ms, folder, name, args, kw)
    except MemorySpaceError:
        TALLY.rejected += 1
        after = observe(ms, folder)
        if after != before:
            TALLY.violations.append(f"{name} changed state: {args!r:.80} {kw!r:.120}")
        if not STRICT:
            return
        assert after == before, f"rejected {name}(*{args!r:.80}, **{kw!r:.200}) changed state"
        return
    except Exception as exc:
        TALLY.violations.append(
            f"{name}: {type(exc).__name__}: {exc!s:.100} {args!r:.60} {kw!r:.100}"
        )
        if not STRICT:
            return
        raise AssertionError(
            f"{name}(*{args!r:.80}, **{kw!r:.200}) raised {type(exc).__name__}: {exc!s:.200}"
        ) from exc
    if name in ("add", "add_many") and result:
        memories = [result] if name == "add" else result
        ids.extend(m.id for m in memories)
