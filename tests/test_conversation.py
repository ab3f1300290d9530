"""MemoryOS-style conversations: STM → MTM → LPM, on a real SQLite space with a fake clock."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from memoryspace import MemorySpace
from memoryspace.conversation import Conversation, ConversationSettings, HeatWeights, heat
from memoryspace.conversation.state import Place, page_state, segment_state
from memoryspace.embed import HashingEmbedder
from memoryspace.errors import InvalidInput
from memoryspace.llm import LLMError, LLMProcessors, ScriptedLLM


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def space(clock: Clock) -> MemorySpace:
    ms = MemorySpace.open(":memory:", embedder=HashingEmbedder(), clock=clock)
    yield ms
    ms.close()


def talk(conv: Conversation, clock: Clock, texts: list[str], agent: str = "I see.") -> None:
    for text in texts:
        clock.advance(60)
        conv.add_turn(text, agent)


def test_stm_overflow_moves_oldest_pages_fifo(space: MemorySpace, clock: Clock) -> None:
    conv = space.conversation(user="u", settings=ConversationSettings(stm_capacity=3))
    talk(conv, clock, [f"message number {i} about topic {i}" for i in range(5)])
    assert [p.meta["user_text"] for p in conv.stm] == [
        f"message number {i} about topic {i}" for i in (2, 3, 4)
    ]
    moved = [p for p in space.scan(user="u", kind="turn") if page_state(p).place is Place.MTM]
    assert [p.meta["user_text"] for p in moved] == [
        "message number 0 about topic 0",
        "message number 1 about topic 1",
    ]
    assert all(page_state(p).segment for p in moved)


def test_page_joins_best_segment_or_starts_one_never_two(space: MemorySpace, clock: Clock) -> None:
    conv = space.conversation(user="u", settings=ConversationSettings(stm_capacity=1, theta=0.6))
    talk(conv, clock, ["I love hiking in the alps"] * 3 + ["quantum chromodynamics lattice"] * 2)
    talk(conv, clock, ["final page stays in stm"])
    sizes = sorted(len(s.page_ids) for s in conv.segments)
    assert sizes == [2, 3]  # identical pages score 2.0 ≥ θ: they join; the new topic starts one
    members = [pid for s in conv.segments for pid in s.page_ids]
    assert len(members) == len(set(members)) == 5
    strict = space.conversation(user="v", settings=ConversationSettings(stm_capacity=1, theta=2.1))
    talk(strict, clock, ["same words again"] * 4)
    assert len(strict.segments) == 3  # Fscore never reaches 2.1: every page starts a segment


def test_heat_formula_hand_computed(space: MemorySpace, clock: Clock) -> None:
    weights = HeatWeights(alpha=2.0, beta=0.5, gamma=3.0, mu=100.0)
    assert heat(3, 4, 1000.0, 1100.0, weights) == pytest.approx(6 + 2 + 3 * math.exp(-1))
    settings = ConversationSettings(stm_capacity=1, theta=0.0, tau=100.0)
    conv = space.conversation(user="u", settings=settings)
    talk(conv, clock, ["a page about cats", "another page about cats", "third page"])
    (segment,) = conv.segments
    clock.advance(1e7)  # one μ since the last access
    assert conv.segment_heat(segment.id) == pytest.approx(0 + 2 + math.exp(-1))
    conv.retrieve("cats")  # warms up: the first read rewrites the stale summary
    lsn = space.lsn
    conv.retrieve("cats")  # a visit: visits + 1, last access now
    assert conv.segment_heat(segment.id) == pytest.approx(2 + 2 + 1)
    assert space.lsn == lsn  # a visit is a read: counted like one, never written to the log
    resumed = space.conversation(user="u", settings=settings)  # rebuilt from the store
    assert resumed.segment_heat(segment.id) == pytest.approx(2 + 2 + 1)
    assert space.get(segment.id).access_count == 2


def test_mtm_evicts_the_coldest_segment_to_the_archive(space: MemorySpace, clock: Clock) -> None:
    settings = ConversationSettings(stm_capacity=1, mtm_capacity=2, theta=2.1, tau=100.0)
    conv = space.conversation(user="u", settings=settings)
    talk(conv, clock, ["alpha topic words", "beta topic words", "gamma topic words"])
    first, second = conv.segments
    conv.retrieve("alpha topic words", top_m=1)  # the first segment is visited: now hotter
    talk(conv, clock, ["delta topic words"])  # a third segment: the coldest (second) goes
    live = {s.id for s in conv.segments}
    assert first.id in live and second.id not in live
    archived = space.get(second.id)
    assert segment_state(archived).archived and "archived" not in archived.tags
    page = space.get(second.page_ids[0])
    assert page_state(page).place is Place.ARCHIVED and page_state(page).segment == second.id
    found = conv.retrieve("beta topic words")
    assert page.id not in {p.id for p in found.pages}


def test_hot_segment_updates_lpm_and_resets_interactions(space: MemorySpace, clock: Clock) -> None:
    settings = ConversationSettings(stm_capacity=1, theta=0.0, tau=3.0, lpm_batch=1)
    conv = space.conversation(user="Emily", settings=settings)
    talk(conv, clock, ["I work as a nurse.", "I love painting.", "My sister is Anna.", "ok"])
    (segment,) = conv.segments
    assert space.get(segment.id).meta["interactions"] < 2  # reset when heat reached τ
    facts = {m.content for m in space.scan(user="Emily", kind="fact")}
    assert "Emily works as nurse" in facts or any("nurse" in f for f in facts)
    assert any("painting" in f for f in facts)
    profile = conv.lpm.profile_record
    assert profile is not None and profile.pinned and "painting" in profile.content


def test_persona_offline_from_first_person_statements(space: MemorySpace, clock: Clock) -> None:
    conv = space.conversation(user="Emily", settings=ConversationSettings(stm_capacity=2))
    talk(
        conv,
        clock,
        ["I love painting and tea.", "I am a vegetarian.", "I work as a nurse in Oslo."] * 3,
    )
    assert "painting" not in conv.persona().describe()  # no segment is hot yet (τ = 5)
    assert conv.consolidate() > 0
    lines = conv.persona().describe()
    assert "painting" in lines and "nurse" in lines and "vegetarian" in lines
    assert all(fact.content.startswith("Emily") for fact in space.scan(kind="fact"))


def test_retrieve_returns_stm_segments_pages_and_lpm(space: MemorySpace, clock: Clock) -> None:
    settings = ConversationSettings(stm_capacity=2, tau=2.0, lpm_batch=1)
    conv = space.conversation(user="Emily", agent="bot", settings=settings)
    talk(conv, clock, ["I love hiking in the mountains.", "I love hiking trails."])
    talk(conv, clock, ["My cat is called Momo.", "The weather is rainy today.", "hello there"])
    found = conv.retrieve("where do I go hiking?")
    assert [p.id for p in found.stm] == [p.id for p in conv.stm]
    assert found.segments and found.pages
    assert any("hiking" in p.content for p in found.pages)
    assert found.facts and found.profile is not None
    ranked = found.ranked_pages()
    assert {p.id for p in ranked} == {p.id for p in (*found.pages, *found.stm)}


def test_prompt_stays_within_budget(space: MemorySpace, clock: Clock) -> None:
    conv = space.conversation(user="u", settings=ConversationSettings(stm_capacity=3))
    talk(conv, clock, [f"I visited city number {i} and loved the food there." for i in range(20)])
    for budget in (40, 120, 600):
        context = conv.prompt("which city had good food?", budget)
        assert 0 < context.tokens <= budget
    with pytest.raises(InvalidInput):
        conv.prompt("x", 0)


def test_reopening_the_space_resumes_the_conversation(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "conv.db"
    settings = ConversationSettings(stm_capacity=2, tau=2.0)
    with MemorySpace.open(path, embedder=HashingEmbedder(), clock=clock) as ms:
        conv = ms.conversation(user="Emily", settings=settings)
        talk(conv, clock, ["I love tea.", "I love tea a lot.", "I run daily.", "I run fast."])
        stm = [p.id for p in conv.stm]
        segments = {s.id: list(s.page_ids) for s in conv.segments}
        pending = len(conv._pending)
    with MemorySpace.open(path, embedder=HashingEmbedder(), clock=clock) as ms:
        again = ms.conversation(user="Emily", settings=settings)
        assert [p.id for p in again.stm] == stm
        assert {s.id: list(s.page_ids) for s in again.segments} == segments
        assert len(again._pending) == pending
        talk(again, clock, ["I swim on sundays."])
        assert len(again.stm) == 2
        assert sum(len(s.page_ids) for s in again.segments) == 3


def test_llm_work_is_batched_to_a_quarter_call_per_turn(space: MemorySpace, clock: Clock) -> None:
    llm = ScriptedLLM(lambda conversation: json.dumps({"turns": []}))
    conv = space.conversation(user="Emily", processors=LLMProcessors(llm))
    talk(conv, clock, [f"I love hobby number {i} and I am happy." for i in range(40)])
    conv.persona()
    calls = llm.stats().calls
    assert calls > 0 and calls / 40 <= 0.25


def test_a_failing_llm_never_stores_error_text(space: MemorySpace, clock: Clock) -> None:
    llm = ScriptedLLM(lambda conversation: LLMError("SECRET-BOOM upstream 500"))
    settings = ConversationSettings(stm_capacity=2, tau=2.0, lpm_batch=1)
    conv = space.conversation(user="Emily", settings=settings, processors=LLMProcessors(llm))
    talk(conv, clock, ["I work as a nurse.", "I work as a nurse."] * 5)
    assert llm.stats().failures > 0
    assert any("nurse" in m.content for m in space.scan(kind="fact"))  # the offline fallback
    dump = json.dumps([m.to_dict() for m in space.scan()])
    assert "SECRET-BOOM" not in dump


def test_bad_input_is_refused(space: MemorySpace) -> None:
    conv = space.conversation(user="u")
    with pytest.raises(InvalidInput):
        conv.add_turn("", "  ")
    with pytest.raises(InvalidInput):
        conv.retrieve(" ")
    with pytest.raises(InvalidInput):
        space.conversation(user="")
    with pytest.raises(InvalidInput):
        ConversationSettings(stm_capacity=0)


@pytest.mark.parametrize("collector", ["generational", "mark_sweep"])
def test_gc_leaves_the_live_conversation_to_its_own_eviction(
    space: MemorySpace, clock: Clock, collector: str
) -> None:
    settings = ConversationSettings(stm_capacity=2, mtm_capacity=2, theta=2.1, tau=100.0)
    conv = space.conversation(user="u", settings=settings)
    talk(conv, clock, [f"page {n} about topic {n}" for n in range(6)])  # theta > 2: one each
    evicted = space.count(kind="summary", include_archived=True) - len(conv.segments)
    assert evicted > 0  # the conversation archived its coldest segments by heat
    space.add("an unrelated stray note", kind="note", importance=0.1)
    clock.advance(3 * 24 * 3600)  # everything is old and cold now, nothing was ever read
    event = space.gc(collector, major=True) if collector == "generational" else space.gc(collector)
    live = [*conv.stm, *(p for s in conv.segments for p in space.store.get_many(s.page_ids))]
    assert live and not any(page.archived for page in live)  # STM and live segments are roots
    assert not any(space.get(s.id).archived for s in conv.segments)
    assert event.collected >= 1  # the stray note is not protected
    resumed = space.conversation(user="u", settings=settings)
    assert [p.id for p in resumed.stm] == [p.id for p in conv.stm]
    assert sorted(s.id for s in resumed.segments) == sorted(s.id for s in conv.segments)
