"""The facade as a user sees it: add, search, edit, forget, history, checkpoints, time travel."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from memoryspace import (
    Closed,
    Conflict,
    HashingEmbedder,
    InvalidInput,
    MemorySpace,
    NotFound,
    ReadOnly,
    Settings,
)
from memoryspace.models import Op, SearchHit
from store_contract import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def ms(tmp_path: Path, clock: FakeClock) -> MemorySpace:
    space = MemorySpace.open(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    yield space
    space.close()


FACTS = [
    ("Maren adopted a retired greyhound named Biscuit", "maren"),
    ("Tobi is learning the cello with a teacher called Ilse", "tobi"),
    ("Maren moved to the Saltmarsh neighbourhood in April", "maren"),
    ("Tobi is allergic to hazelnuts", "tobi"),
    ("The wedding was moved because the barn flooded", "maren"),
]


def fill(ms: MemorySpace) -> list[str]:
    return [m.id for m in ms.add_many([{"content": c, "user": u} for c, u in FACTS])]


def test_add_get_round_trip(ms: MemorySpace, clock: FakeClock) -> None:
    memory = ms.add(
        "hello there",
        user="u",
        session="s1",
        kind="fact",
        tags=["greeting"],
        meta={"lang": "en"},
        importance=0.8,
        ttl=60,
        timestamp=1000.0,
    )
    got = ms.get(memory.id)
    assert got.content == "hello there" and got.user == "u" and got.session == "s1"
    assert got.kind == "fact" and got.tags == ("greeting",) and got.meta == {"lang": "en"}
    assert got.importance == 0.8 and got.created_at == 1000.0 and got.valid_from == 1000.0
    assert got.expires_at == clock.now + 60
    assert got.tokens > 0


def test_search_finds_by_words_and_explains_scores(ms: MemorySpace) -> None:
    fill(ms)
    hits = ms.search("greyhound Biscuit", k=3)
    assert hits[0].memory.content.startswith("Maren adopted")
    top = hits[0].parts
    assert top.sparse_rank == 1 and top.dense_rank is not None
    assert hits[0].score == pytest.approx(top.relevance)  # the first hit is capped by nothing
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert [h.parts.fused for h in hits] == sorted((h.parts.fused for h in hits), reverse=True)


def test_search_filters_by_scope_and_counts_access(ms: MemorySpace) -> None:
    fill(ms)
    hits = ms.search("Maren Tobi", k=10, user="tobi")
    assert hits and {h.memory.user for h in hits} == {"tobi"}
    ms.store.flush()
    assert ms.get(hits[0].memory.id).access_count == 1


def test_unknown_filter_is_refused(ms: MemorySpace) -> None:
    fill(ms)
    with pytest.raises(InvalidInput, match="unknown filter"):
        ms.search("x", colour="red")


def test_expired_memories_are_hidden(ms: MemorySpace, clock: FakeClock) -> None:
    short = ms.add("the parking code is 4417", ttl=10)
    ms.add("the parking garage closes at midnight")
    assert short.id in {h.memory.id for h in ms.search("parking code")}
    clock.now += 11
    assert short.id not in {h.memory.id for h in ms.search("parking code")}
    assert short.id in {h.memory.id for h in ms.search("parking code", include_expired=True)}


def test_update_reembeds_and_is_logged(ms: MemorySpace) -> None:
    ids = fill(ms)
    ms.update(ids[3], content="Tobi loves coriander now")
    assert ms.search("coriander", k=1)[0].memory.id == ids[3]
    assert ids[3] not in {
        h.memory.id for h in ms.search("hazelnuts allergic", k=5) if h.parts.sparse is not None
    }
    ops = [c.op for c in ms.history(ids[3])]
    assert ops == [Op.ADD, Op.UPDATE]
    assert ms.history(ids[3])[1].before.content == "Tobi is allergic to hazelnuts"


def test_pin_unpin_and_delete(ms: MemorySpace) -> None:
    ids = fill(ms)
    assert ms.pin(ids[0]).pinned
    assert ms.count(pinned=True) == 1
    assert not ms.unpin(ids[0]).pinned
    ms.delete(ids[0])
    with pytest.raises(NotFound):
        ms.get(ids[0])
    assert ids[0] not in {h.memory.id for h in ms.search("greyhound Biscuit")}
    assert [c.op for c in ms.history(ids[0])][-1] == Op.DELETE


def test_forget_by_scope_and_by_query(ms: MemorySpace) -> None:
    fill(ms)
    with pytest.raises(InvalidInput, match="needs a query"):
        ms.forget()
    gone = ms.forget("hazelnuts", k=1)
    assert len(gone) == 1 and ms.count() == 4
    assert len(ms.forget(user="maren")) == 3
    assert ms.count() == 1


def test_change_feed_tails_from_an_lsn(ms: MemorySpace) -> None:
    fill(ms)
    mark = ms.lsn
    extra = ms.add("a later memory")
    feed = ms.changes(mark)
    assert [(c.op, c.id) for c in feed] == [(Op.ADD, extra.id)]


def test_checkpoint_restore_and_time_travel(ms: MemorySpace) -> None:
    ids = fill(ms)
    checkpoint = ms.checkpoint("c1")
    ms.delete(ids[:2])
    ms.update(ids[2], content="Maren moved again")
    assert ms.count() == 3
    with ms.as_of(checkpoint.lsn) as past:
        assert past.count() == 5
        assert past.get(ids[2]).content.startswith("Maren moved to the Saltmarsh")
        assert past.search("greyhound", k=1)[0].memory.id == ids[0]
        with pytest.raises(ReadOnly):
            past.add("no writes in the past")
    before_restore = ms.lsn
    ms.restore("c1")
    assert ms.count() == 5 and ms.get(ids[2]).content.startswith("Maren moved to the Saltmarsh")
    assert ms.search("greyhound Biscuit", k=1)[0].memory.id == ids[0]
    ms.restore(None, to_lsn=before_restore)  # a restore is undone like any change
    assert ms.count() == 3 and ms.get(ids[2]).content == "Maren moved again"


def test_reopen_keeps_everything_and_uses_the_saved_index(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ids = fill(ms)
    assert (tmp_path / "m.db.vectors").exists() or list(tmp_path.glob("m.db.vectors*"))
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert not ms.index.rebuilt
        assert ms.search("greyhound Biscuit", k=1)[0].memory.id == ids[0]


def test_damaged_index_is_rebuilt_from_the_store(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ids = fill(ms)
    for file in tmp_path.glob("m.db.vectors*"):
        file.write_bytes(b"garbage")
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert ms.index.rebuilt and len(ms.index) == 5
        assert ms.search("greyhound Biscuit", k=1)[0].memory.id == ids[0]


def test_index_catches_up_with_writes_from_another_handle(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as reader:
        fill(reader)
        with MemorySpace.open(path, embedder=HashingEmbedder()) as writer:
            new = writer.add("Oona looked after the dog during the island trip")
        hits = reader.search("Oona island trip", k=1)
        assert hits[0].memory.id == new.id
        assert hits[0].parts.dense_rank == 1


def test_another_embedder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add("x marks the spot")
    with pytest.raises(Conflict, match="hashing"):
        MemorySpace.open(path, embedder=HashingEmbedder(dimension=64))


def test_closed_space_refuses_use(tmp_path: Path) -> None:
    ms = MemorySpace.open(tmp_path / "m.db", embedder=HashingEmbedder())
    ms.close()
    with pytest.raises(Closed):
        ms.add("too late")
    with pytest.raises(Closed):
        ms.search("anything")


BAD_CONTENT = [
    ("", "empty"),
    ("   ", "empty"),
    (42, "must be a string"),
    (None, "must be a string"),
    (b"\xff\xfe broken", "not valid UTF-8"),
    ("half a pair \ud800", "surrogates"),
    ("x" * 101, "over the limit"),
]


@pytest.mark.parametrize(("content", "message"), BAD_CONTENT)
def test_bad_content_is_refused_and_nothing_changes(
    tmp_path: Path, content: object, message: str
) -> None:
    with MemorySpace.open(
        tmp_path / "m.db", embedder=HashingEmbedder(), settings=Settings(max_content_chars=100)
    ) as ms:
        fill(ms)
        lsn, count = ms.lsn, ms.count()
        with pytest.raises(InvalidInput, match=message):
            ms.add_many([{"content": "fine"}, {"content": content}])
        assert (ms.lsn, ms.count()) == (lsn, count)


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([math.nan] + [0.1] * 383, "NaN"),
        ([math.inf] + [0.1] * 383, "NaN or infinity"),
        ([0.1] * 10, "384 dimensions"),
        ([0.0] * 384, "all zeros"),
        ("not numbers", "shape|sequence"),
    ],
)
def test_bad_vectors_are_refused(ms: MemorySpace, vector: object, message: str) -> None:
    fill(ms)
    lsn = ms.lsn
    with pytest.raises(InvalidInput, match=message):
        ms.add("has a vector", vector=vector)
    assert ms.lsn == lsn


@pytest.mark.parametrize(
    "fields",
    [
        {"ttl": -1},
        {"ttl": math.inf},
        {"importance": 2},
        {"kind": "dream"},
        {"timestamp": "yesterday"},
        {"meta": {"x": math.nan}},
        {"user": ""},
        {"colour": "red"},
    ],
)
def test_bad_fields_are_refused(ms: MemorySpace, fields: dict[str, object]) -> None:
    lsn = ms.lsn
    with pytest.raises(InvalidInput):
        ms.add("something", **fields)
    assert ms.lsn == lsn


def test_precomputed_vectors_are_used_as_given(ms: MemorySpace) -> None:
    vector = np.zeros(384, dtype=np.float32)
    vector[7] = 3.0
    memory = ms.add("opaque", vector=vector)
    keys, scores = ms.index.search(vector / 3.0, 1)
    assert ms.store.key_of(memory.id) == int(keys[0]) and scores[0] == pytest.approx(1.0)


def test_stats_reports_sizes(ms: MemorySpace) -> None:
    fill(ms)
    ms.search("cello")
    stats = ms.stats()
    assert stats["memories"] == 5 and stats["by_kind"] == {"turn": 5}
    assert stats["counters"]["searches"] == 1 and stats["index"]["vectors"] == 5
    assert stats["embedder"] == HashingEmbedder().model_id


def test_delete_tolerates_a_repeated_id_and_is_all_or_nothing(ms: MemorySpace) -> None:
    ids = fill(ms)
    assert len(ms.delete([ids[0], ids[0]])) == 1
    with pytest.raises(NotFound):
        ms.delete([ids[1], "no-such-id"])
    assert ms.count() == 4


def test_context_fits_the_budget_puts_pinned_first_and_keeps_its_prefix(ms: MemorySpace) -> None:
    ids = fill(ms)
    ms.pin(ids[3])  # Tobi's allergy: always in Tobi's context
    first = ms.context("what is Tobi learning?", budget=60, user="tobi")
    assert first.tokens <= 60
    assert first.blocks[0].source_ids == (ids[3],)
    assert ids[1] in first.source_ids
    again = ms.context("who teaches Tobi the cello?", budget=60, user="tobi")
    assert again.text.startswith(first.blocks[0].text)
    with pytest.raises(InvalidInput):
        ms.context("anything", budget=0)
    messages = ms.context("cello", budget=60, user="tobi", format="messages").messages
    assert messages and all(m["role"] == "system" for m in messages)


def test_stats_include_the_embedding_cache(tmp_path: Path) -> None:
    from memoryspace import CachedEmbedder, EmbeddingCache

    embedder = CachedEmbedder(HashingEmbedder(), EmbeddingCache(tmp_path / "cache.sqlite"))
    with MemorySpace.open(tmp_path / "m.db", embedder=embedder) as ms:
        ms.add_many(["one memory", "another memory", "one memory"])
        ms.add("one memory")
        cache = ms.stats()["embedding_cache"]
    assert cache["entries"] == 2 and cache["misses"] == 3 and cache["hits"] == 1


def test_a_search_without_touch_leaves_access_counters_alone(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "t.db", embedder="hashing") as ms:
        looked, used = ms.add("the blue pot"), ms.add("the blue kettle")
        assert [h.memory.id for h in ms.search("blue pot", k=1, touch=False)] == [looked.id]
        ms.search("blue kettle", k=1)
        ms.flush()
        assert ms.get(looked.id).access_count == 0
        assert ms.get(used.id).access_count == 1


def test_an_exact_quote_outranks_a_better_mix_of_words_and_vectors(tmp_path: Path) -> None:
    quoted = "the old boat drifted past the lighthouse at dawn"
    jumble = "boat boat old drifted lighthouse past the dawn the boat drifted old lighthouse"
    query = "Old boat drifted past the lighthouse!"  # case and punctuation aside, in `quoted`

    def ranking(**settings: float) -> list[SearchHit]:
        with MemorySpace.open(
            tmp_path / f"q{len(settings)}.db", embedder="hashing", settings=Settings(**settings)
        ) as ms:
            ms.add_many([quoted, jumble, "the harbour was quiet"])
            return ms.search(query, k=3, min_score=0)

    without = ranking(phrase_boost=0.0)
    assert without[0].memory.content == jumble  # more of the words, more often
    assert all(hit.parts.phrase_boost == 0.0 for hit in without)
    found = ranking()
    assert found[0].memory.content == quoted
    assert found[0].parts.phrase_boost == 1.0
    assert [h.parts.phrase_boost for h in found[1:]] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("content", "quoted"),
    [
        ("The old boat drifted past the lighthouse.", True),
        ("THE OLD BOAT -- drifted, past the lighthouse", True),  # case and punctuation aside
        ("the old boats drifted past the lighthouse", False),  # whole words only
        ("the old boat slowly drifted past the lighthouse", False),  # next to each other
        ("past the lighthouse the old boat drifted", False),  # in order
    ],
)
def test_what_counts_as_quoting_the_query(tmp_path: Path, content: str, quoted: bool) -> None:
    with MemorySpace.open(tmp_path / "p.db", embedder="hashing") as ms:
        ms.add(content)
        (hit,) = ms.search("old boat drifted past the lighthouse", k=1)
    assert (hit.parts.phrase_boost > 0) is quoted
