"""``Conversation.prompt`` spends a small budget on what the question needs, and profile facts
that change (job, home) keep only their newest value as current. Real SQLite files, the
offline processors, a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from memoryspace import MemorySpace
from memoryspace.conversation import Conversation, ConversationSettings
from memoryspace.embed import HashingEmbedder
from memoryspace.errors import InvalidInput
from memoryspace.models import Kind

LIKES = [
    "hiking in the mountains",
    "baking sourdough bread",
    "jazz records",
    "watercolour painting",
    "long train journeys",
    "Korean cooking",
    "board games with friends",
    "swimming in cold lakes",
    "science fiction novels",
    "growing tomatoes",
    "vintage cameras",
    "learning Portuguese",
]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def space(tmp_path: Path, clock: Clock) -> MemorySpace:
    ms = MemorySpace.open(tmp_path / "talk.db", embedder=HashingEmbedder(), clock=clock)
    yield ms
    ms.close()


def say(conversation: Conversation, clock: Clock, text: str, reply: str = "I see.") -> None:
    clock.advance(600)
    conversation.add_turn(text, reply)


def test_a_small_budget_holds_the_answer_not_the_whole_persona(
    space: MemorySpace, clock: Clock
) -> None:
    conversation = space.conversation(user="ana", settings=ConversationSettings(stm_capacity=3))
    for thing in LIKES:
        say(conversation, clock, f"I love {thing}.")
    say(conversation, clock, "My dog Biscuit is a greyhound who sleeps all day.", "Cute!")
    for thing in LIKES[:6]:
        say(conversation, clock, f"Yesterday I spent the evening on {thing} again.")
    conversation.consolidate()
    profile = conversation.lpm.profile_record
    assert profile is not None and space.count_tokens(profile.content) > 50

    context = conversation.prompt("What breed is my dog Biscuit?", budget=80)
    assert "Biscuit is a greyhound" in context.text
    assert context.tokens <= 80
    assert profile.id not in context.source_ids
    records = space.get_many(context.source_ids)
    long_term = [b for b, m in zip(context.blocks, records, strict=True) if m.kind is Kind.FACT]
    assert sum(block.tokens for block in long_term) <= 80 * 0.25
    # facts shown are the relevant ones, never the unrelated hobbies
    assert not any("sourdough" in space.get(b.source_ids[0]).content for b in long_term)

    roomy = conversation.prompt("What breed is my dog Biscuit?", budget=4000)
    assert profile.id in roomy.source_ids  # the whole profile when the share holds it


def test_a_changed_job_replaces_the_old_one(space: MemorySpace, clock: Clock) -> None:
    conversation = space.conversation(user="ana", settings=ConversationSettings(stm_capacity=2))
    say(conversation, clock, "I work as a pediatric nurse.")
    say(conversation, clock, "I live in Porto.")
    conversation.consolidate()
    say(conversation, clock, "Big news: I now work as a school nurse.")
    say(conversation, clock, "I moved to Lisbon last month.")
    conversation.consolidate()

    described = conversation.persona()
    jobs = [item.object for item in described.attributes if item.relation == "works as"]
    assert jobs == ["school nurse"]
    assert "pediatric" not in conversation.lpm.profile_record.content  # type: ignore[union-attr]
    facts = conversation.lpm.facts_for("what is my job? where do I work as a nurse", 10)
    assert [f.content for f in facts if "nurse" in f.content] == ["ana works as school nurse"]
    old = next(f for f in conversation.lpm.fact_records if f.content.endswith("pediatric nurse"))
    assert old.valid_to is not None and old.meta["superseded_by"]
    homes = {f.content: f.valid_to for f in conversation.lpm.fact_records if "Porto" in f.content}
    assert all(closed is not None for closed in homes.values())  # moved to Lisbon: home changed

    # resumed from the store: the same current values; saying the old job again restores it
    resumed = space.conversation(user="ana", settings=ConversationSettings(stm_capacity=2))
    say(resumed, clock, "I work as a pediatric nurse again since May.")
    resumed.consolidate()
    jobs = [item.object for item in resumed.persona().attributes if item.relation == "works as"]
    assert len(jobs) == 1 and jobs[0].startswith("pediatric nurse")


@pytest.mark.parametrize("field", ["profile_share", "profile_min_score"])
@pytest.mark.parametrize("value", [-0.1, 1.5, "half", True])
def test_long_term_share_settings_are_checked(field: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=field):
        ConversationSettings(**{field: value})  # type: ignore[arg-type]


def test_prompt_refuses_a_bad_budget(space: MemorySpace) -> None:
    conversation = space.conversation(user="ana")
    conversation.add_turn("hello", "hi")
    for budget in (0, -5, 2.5, True):
        with pytest.raises(InvalidInput, match="budget"):
            conversation.prompt("hello", budget)  # type: ignore[arg-type]
