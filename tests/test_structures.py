"""Agent structures use only the narrow ``MemoryInterface``: a conversation runs over a space
that exposes nothing else, keeps exactly ``stm_capacity`` short-term pages under a write-back
tier across a reopen, and an old database's flag-and-tag page state is migrated to the typed
form. ``conversation/`` and ``reader/`` import no store, tier, index, retrieval or facade."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import memoryspace
from memoryspace import MemorySpace, Settings
from memoryspace.conversation import ConversationSettings
from memoryspace.conversation.conversation import Conversation
from memoryspace.conversation.state import (
    STATE_KEY,
    Place,
    SegmentState,
    is_legacy,
    page_state,
    segment_state,
)
from memoryspace.embed import HashingEmbedder
from memoryspace.errors import InvalidInput
from memoryspace.models import Memory, SearchHit
from memoryspace.structures import MemoryInterface, Vector, Vectors

PACKAGE = Path(memoryspace.__file__).parent
FORBIDDEN = (
    "memoryspace.store",
    "memoryspace.tiers",
    "memoryspace.index",
    "memoryspace.retrieval",
    "memoryspace.space",
    "memoryspace.gc",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 30
        return self.now


class OnlyTheInterface:
    """A memory that forwards exactly ``MemoryInterface``'s members to a space, and has no
    ``store``, ``embedder``, ``hot_tier`` or ``_clock`` for a structure to reach into."""

    def __init__(self, space: MemorySpace) -> None:
        self._space = space
        self.calls: dict[str, int] = {}

    def _call(self, name: str) -> Any:
        self.calls[name] = self.calls.get(name, 0) + 1
        return getattr(self._space, name)

    @property
    def settings(self) -> Settings:
        return self._space.settings

    def now(self) -> float:
        return float(self._call("now")())

    def add(self, content: str, *, dedupe: bool | None = None, **fields: Any) -> Memory:
        return self._call("add")(content, dedupe=dedupe, **fields)  # type: ignore[no-any-return]

    def add_many(
        self,
        items: Iterable[Mapping[str, Any] | str],
        *,
        actor: str | None = None,
        dedupe: bool | None = None,
    ) -> list[Memory]:
        return self._call("add_many")(items, actor=actor, dedupe=dedupe)  # type: ignore[no-any-return]

    def update(
        self, id: str, *, actor: str | None = None, if_version: int | None = None, **fields: Any
    ) -> Memory:
        return self._call("update")(id, actor=actor, if_version=if_version, **fields)  # type: ignore[no-any-return]

    def get(self, id: str) -> Memory:
        return self._call("get")(id)  # type: ignore[no-any-return]

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        return self._call("get_many")(ids)  # type: ignore[no-any-return]

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        min_score: float | None = None,
        touch: bool = True,
        **filters: Any,
    ) -> list[SearchHit]:
        return self._call("search")(query, k=k, min_score=min_score, touch=touch, **filters)  # type: ignore[no-any-return]

    def scan(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        **filters: Any,
    ) -> Iterator[Memory]:
        return self._call("scan")(limit=limit, offset=offset, newest_first=newest_first, **filters)  # type: ignore[no-any-return]

    def record_use(self, ids: Sequence[str], *, when: float | None = None) -> None:
        self._call("record_use")(ids, when=when)

    def flush(self) -> int:
        return int(self._call("flush")())

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._call("embed")(texts)  # type: ignore[no-any-return]

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, Vector]:
        return self._call("stored_vectors")(ids)  # type: ignore[no-any-return]

    def count_tokens(self, text: str) -> int:
        return int(self._call("count_tokens")(text))


def imported_modules(package: Path) -> set[str]:
    """Every module a package's files import, TYPE_CHECKING blocks and function bodies too."""
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("package", ["conversation", "reader"])
def test_structures_import_no_store_tier_index_or_facade(package: str) -> None:
    modules = imported_modules(PACKAGE / package)
    assert "memoryspace.structures" in modules or package == "reader"
    reaching = sorted(m for m in modules if m.startswith(FORBIDDEN))
    assert reaching == []


def test_the_reader_saves_through_the_interface() -> None:
    assert "memoryspace.structures" in imported_modules(PACKAGE / "reader")


def test_a_memory_space_is_a_memory_interface(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as ms:
        assert isinstance(ms, MemoryInterface)
        assert isinstance(OnlyTheInterface(ms), MemoryInterface)


def test_a_conversation_runs_over_only_the_interface(tmp_path: Path) -> None:
    chat = ConversationSettings(stm_capacity=2, mtm_capacity=3)
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder(), clock=Clock()) as ms:
        memory = OnlyTheInterface(ms)
        conversation = Conversation(memory, user="ana", settings=chat)
        for n in range(12):
            conversation.add_turn(f"I adopted pet number {n}, a cat called Tom{n}", "Nice!")
        conversation.add_turn("My job: I work as a school nurse.", "Good to know.")
        found = conversation.retrieve("what is my cat called?")
        assert found.pages and len(found.stm) == 2
        assert "Tom" in conversation.prompt("what is my cat called?", budget=300).text
        conversation.consolidate()
        used = {name for name, n in memory.calls.items() if n}
        assert {"add", "update", "get_many", "search", "scan", "record_use", "embed"} <= used
        segment = conversation.segments[0]
        assert ms.get(segment.id).access_count >= 1  # record_use counted the visit

        rebuilt = Conversation(OnlyTheInterface(ms), user="ana", settings=chat)
        assert [p.id for p in rebuilt.stm] == [p.id for p in conversation.stm]
        assert [s.id for s in rebuilt.segments] == [s.id for s in conversation.segments]


@pytest.mark.parametrize("write_policy", ["write_back", "write_through"])
def test_a_conversation_under_a_tier_keeps_exactly_stm_capacity_pages_across_a_reopen(
    tmp_path: Path, write_policy: str
) -> None:
    path = tmp_path / "a.db"
    settings = Settings(hot_tier_records=16, hot_tier_write_policy=write_policy)
    chat = ConversationSettings(stm_capacity=2, mtm_capacity=4)
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        conversation = ms.conversation(user="ana", settings=chat)
        for n in range(40):
            conversation.add_turn(f"question {n} about topic {n % 7}", f"answer {n}")
            if n % 9 == 0:
                conversation.retrieve(f"topic {n % 7}")
        kept = [page.id for page in conversation.stm]
        assert len(kept) == 2
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        places = {m.id: page_state(m).place for m in ms.scan(user="ana", kind="turn")}
        assert [pid for pid, place in places.items() if place is Place.STM] == kept
        assert len(places) == 40
        rebuilt = ms.conversation(user="ana", settings=chat)
        assert [page.id for page in rebuilt.stm] == kept
        assert len(rebuilt.segments) <= 4
        rebuilt.add_turn("one more question", "one more answer")
        assert len(rebuilt.stm) == 2
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        assert len(ms.conversation(user="ana", settings=chat).stm) == 2


def to_legacy(ms: MemorySpace, record: Memory) -> None:
    """Write a record's state back in the flag-and-tag form databases had before."""
    meta = {k: v for k, v in record.meta.items() if k != STATE_KEY}
    tags = list(record.tags)
    if record.meta.get("page") is True:
        state = page_state(record)
        meta.update(stm=state.place is Place.STM, segment=state.segment)
        if state.lpm is not None:
            meta["lpm"] = str(state.lpm)
        if state.place is Place.ARCHIVED:
            meta["archived"] = True
            tags.append("archived")
    elif segment_state(record).archived:
        meta["archived"] = True
        tags.append("archived")
    ms.update(record.id, meta=meta, tags=tags)


def test_an_old_database_is_migrated_to_typed_state(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    chat = ConversationSettings(stm_capacity=1, mtm_capacity=2, theta=2.1, tau=100.0)
    with MemorySpace.open(path, embedder=HashingEmbedder(), clock=Clock()) as ms:
        conversation = ms.conversation(user="u", settings=chat)
        for topic in ["alpha", "beta", "gamma", "delta", "epsilon"]:
            conversation.add_turn(f"{topic} topic words", "ok")
        before = {m.id: page_state(m) for m in ms.scan(user="u", kind="turn") if m.meta.get("page")}
        segments = list(ms.scan(user="u", kind="summary", meta={"segment": True}))
        assert any(segment_state(s).archived for s in segments)
        for record in [*ms.scan(user="u", kind="turn"), *segments]:
            to_legacy(ms, record)
        legacy = list(ms.scan(user="u"))
        assert all(is_legacy(m) for m in legacy if m.kind.value in ("turn", "summary"))
        assert any("archived" in m.tags for m in legacy)
        # the GC root rule reads the legacy form: the STM page and live segments are rooted
        roots = ms.gc_roots.ids(legacy)
        assert next(pid for pid, s in before.items() if s.place is Place.STM) in roots

    with MemorySpace.open(path, embedder=HashingEmbedder(), clock=Clock()) as ms:
        resumed = ms.conversation(user="u", settings=chat)
        after = {m.id: m for m in ms.scan(user="u", kind="turn")}
        assert {pid: page_state(m) for pid, m in after.items()} == before
        for record in [*after.values(), *ms.scan(user="u", kind="summary")]:
            assert not is_legacy(record) and "archived" not in record.tags
            assert not {"stm", "archived", "lpm"} & set(record.meta)
        assert [p.id for p in resumed.stm] == [i for i, s in before.items() if s.place is Place.STM]
        assert len(resumed.segments) == 2


def test_a_malformed_state_is_refused_with_the_record_named(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as ms:
        page = ms.conversation(user="u").add_turn("hello there", "hi")
        broken = ms.update(page.id, meta={**page.meta, STATE_KEY: {"v": 1, "place": "attic"}})
        with pytest.raises(InvalidInput, match=page.id):
            page_state(broken)
        assert page.id in ms.gc_roots.ids([broken])  # kept: a collection never guesses
        with pytest.raises(InvalidInput, match="bool"):
            SegmentState("yes")  # type: ignore[arg-type]


def test_the_reader_saves_a_reading_through_only_the_interface(tmp_path: Path) -> None:
    from memoryspace.reader import read
    from memoryspace.reader.store import save_reading

    text = "Ada Lovelace wrote the first program. The weather was mild. Ada worked with Babbage."
    reading = read(text, "Who did Ada work with?", chunk_tokens=16, memory_tokens=24)
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as ms:
        memory = OnlyTheInterface(ms)
        saved = save_reading(memory, reading, "text", scope={"user": "u"})
        assert memory.calls == {"add_many": 1}
        records = ms.get_many(list(saved.records))
        assert records[0].kind.value == "note" and len(records) == 1 + len(reading.kept)
        assert all(r.user == "u" for r in records)


def test_a_legacy_conversation_reads_on_a_read_only_view(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with MemorySpace.open(path, embedder=HashingEmbedder(), clock=Clock()) as ms:
        conversation = ms.conversation(user="u", settings=ConversationSettings(stm_capacity=1))
        for n in range(3):
            conversation.add_turn(f"topic {n} words", "ok")
        for record in list(ms.scan(user="u")):
            if record.meta.get("page") or record.meta.get("segment") is True:
                to_legacy(ms, record)
        past = ms.as_of(ms.lsn)
        try:
            viewed = past.conversation(user="u", settings=ConversationSettings(stm_capacity=1))
            assert [p.id for p in viewed.stm] == [p.id for p in conversation.stm]
            assert all(is_legacy(m) for m in past.scan(user="u", kind="turn"))
        finally:
            past.close()
