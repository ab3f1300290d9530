"""Offline processors on hand-written dialogue, and LLMProcessors against a scripted chat server."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chat_server import FakeChat, Step, batch_reply, prompt, serve_chat
from memoryspace.errors import InvalidInput
from memoryspace.llm import (
    Fact,
    FactKind,
    LLMError,
    LLMProcessors,
    OfflineProcessors,
    OpenAICompatibleLLM,
    Processors,
    ScriptedLLM,
)

offline = OfflineProcessors()

ME = "Maren"
PREF, ATTR, PLAN = FactKind.PREFERENCE, FactKind.ATTRIBUTE, FactKind.PLAN
REL, EVENT = FactKind.RELATION, FactKind.EVENT

STATEMENTS: list[tuple[str, tuple[str, FactKind, str]]] = [
    ("I love hiking in the Alps.", (ME, PREF, "hiking in the Alps")),
    ("Honestly, I really hate cold coffee.", (ME, PREF, "cold coffee")),
    ("I prefer tea over coffee.", (ME, PREF, "tea")),
    ("I'm not a fan of jazz, sorry.", (ME, PREF, "jazz")),
    ("My favourite band is Radiohead!", (ME, PREF, "Radiohead")),
    ("I'm a nurse at St. Mary's hospital.", (ME, ATTR, "nurse at St. Mary's hospital")),
    ("Well, I work at Google these days.", (ME, ATTR, "Google")),
    ("I live in Berlin.", (ME, ATTR, "Berlin")),
    ("I'm allergic to peanuts, so be careful.", (ME, ATTR, "peanuts")),
    ("I'm vegetarian.", (ME, ATTR, "vegetarian")),
    ("I'm 34 years old.", (ME, ATTR, "34")),
    ("I'm planning to run a marathon next spring.", (ME, PLAN, "run a marathon next spring")),
    ("I'm going to Lisbon next week!", (ME, PLAN, "go to Lisbon next week")),
    ("My sister is named Anna.", (ME, REL, "Anna")),
    ("My brother is a dentist.", ("Maren's brother", ATTR, "dentist")),
    ("I have a dog named Biscuit.", (ME, REL, "Biscuit")),
    ("I used to play the violin.", (ME, EVENT, "play the violin")),
    ("I moved to Oslo in 2019.", (ME, EVENT, "Oslo in 2019")),
]

NOT_FACTS = [
    "Do you like pizza?",
    "If I lived in Paris, I would eat croissants every day.",
    "She loves hiking.",
    "My sister loves painting.",
    "I'd like to order a pizza.",
    "I love it!",
    "I'm a bit tired today.",
    "I don't know.",
    "I wish I lived by the sea.",
    "I'm going to be honest with you.",
    "I'm not a doctor.",
    "I'm sure it will be fine.",
    "I'm happy to help you tomorrow.",
    "I think so.",
    "Ok, thanks!",
]


def triples(facts: list[Fact]) -> list[tuple[str, FactKind, str]]:
    return [(fact.subject, fact.kind, fact.object) for fact in facts]


def test_offline_processors_satisfy_the_protocol() -> None:
    assert isinstance(offline, Processors)


@pytest.mark.parametrize(("text", "expected"), STATEMENTS)
def test_facts_from_first_person_statements(text: str, expected: tuple[str, FactKind, str]) -> None:
    facts = offline.extract_facts(text, speaker="Maren")
    assert triples(facts) == [expected]
    assert facts[0].text == text  # the source sentence, verbatim


@pytest.mark.parametrize("text", NOT_FACTS)
def test_no_facts_from_questions_hypotheticals_others_and_small_talk(text: str) -> None:
    assert offline.extract_facts(text, speaker="Maren") == []


def test_relations_and_defaults() -> None:
    facts = offline.extract_facts(
        "My brother Tom is visiting. I don't like horror movies and I'm a very shy person."
    )
    assert [(f.subject, f.relation, f.object) for f in facts] == [
        ("user", "brother", "Tom"),
        ("user", "dislikes", "horror movies"),
        ("user", "is", "shy"),
    ]
    assert facts[0].statement == "user brother Tom"
    assert offline.extract_facts_many([("I live in Rome.", "Ada"), ("Nice!", None)]) == [
        [Fact("Ada", "lives in", "Rome", FactKind.ATTRIBUTE, "I live in Rome.")],
        [],
    ]


def test_persona_aggregates_with_counts() -> None:
    texts = [
        "I love hiking.",
        "Honestly I love hiking so much!",
        "I'm vegetarian.",
        "I'm a nurse.",
        "My sister is named Anna.",
        "Hiking in the Alps was amazing, the Alps are beautiful.",
        "I'm planning to visit Anna next week.",
        "She loves opera.",
    ]
    persona = offline.persona(texts, speaker="Maren")
    assert persona.subject == "Maren"
    assert [(p.relation, p.object, p.count) for p in persona.preferences] == [
        ("loves", "hiking", 2)
    ]
    assert [(p.relation, p.object) for p in persona.relations] == [("sister", "Anna")]
    assert [p.object for p in persona.plans] == ["visit Anna next week"]
    assert [(p.relation, p.object) for p in persona.attributes] == [
        ("is", "vegetarian"),
        ("is a", "nurse"),
    ]
    assert persona.traits == (("vegetarian", 1),)  # a trait; "nurse" is not one
    assert ("hiking", 3) in persona.topics
    assert "Preferences: loves hiking" in persona.describe()


def test_keywords_contain_the_salient_words() -> None:
    text = (
        "We drove up to Lake Tahoe last weekend for a camping trip. The camping was great, "
        "although the lake was freezing. Maren brought her new tent and the tent survived a "
        "thunderstorm. Next time we want to try camping at Yosemite."
    )
    keywords = offline.keywords(text, k=5)
    assert len(keywords) == 5
    assert keywords[0] == "camping"
    assert "lake tahoe" in keywords
    assert any("tent" in keyword for keyword in keywords)
    assert offline.keywords("ok thanks!", k=3) == []
    with pytest.raises(InvalidInput):
        offline.keywords(text, k=0)


DIALOGUE = [
    "I started training for the Berlin marathon in March.",
    "The marathon training plan has four runs a week.",
    "My knee hurt after the long run on Sunday, so I saw a physio.",
    "The physio said the marathon training can continue if I stretch my knee.",
    "Lunch was a sandwich.",
    "The weather was nice.",
]


def test_summary_picks_central_sentences_in_order() -> None:
    summary = offline.summarize(DIALOGUE, max_sentences=2)
    assert summary == (
        "The marathon training plan has four runs a week. "
        "The physio said the marathon training can continue if I stretch my knee."
    )
    three = offline.summarize(DIALOGUE, max_sentences=3)
    assert three.startswith("I started training for the Berlin marathon")
    assert "sandwich" not in three and "weather" not in three
    assert offline.summarize(["One sentence only."], max_sentences=3) == "One sentence only."
    assert offline.summarize([], max_sentences=1) == ""
    with pytest.raises(InvalidInput):
        offline.summarize("a bare string", max_sentences=1)


def test_continuity_follows_topic_and_time() -> None:
    before = "I just got back from the camping trip at Lake Tahoe."
    follow_up = offline.continuity(
        before, 0.0, "The camping trip sounds fun, how was the lake?", 60.0
    )
    question = offline.continuity(before, 0.0, "Why did you go there?", 60.0)
    unrelated = offline.continuity(before, 0.0, "My tax return is due on Friday.", 120.0)
    switched = offline.continuity(before, 0.0, "Anyway, my tax return is due.", 2 * 86400.0)
    assert follow_up > 0.8
    assert question > 0.6
    assert unrelated < 0.2
    assert switched < 0.01
    same_topic_next_day = offline.continuity(before, 0.0, before, 86400.0)
    assert same_topic_next_day < follow_up
    assert 0.0 <= offline.continuity("", None, "", None) <= 1.0


def test_importance_orders_memorable_above_small_talk() -> None:
    ordered = [
        "ok",
        "The weather is nice.",
        "I'm allergic to peanuts.",
        "My daughter Emma was born on March 3rd, 2021!",
    ]
    scores = [offline.importance(text) for text in ordered]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)
    assert all(0.0 <= score <= 1.0 for score in scores)


def test_offline_is_fast_and_deterministic() -> None:
    turns = [text for text, _ in STATEMENTS] * 20 + NOT_FACTS * 20
    started = time.perf_counter()
    first = [offline.extract_facts(turn) for turn in turns]
    assert [offline.extract_facts(turn) for turn in turns] == first
    offline.summarize(turns[:100], 3)
    assert time.perf_counter() - started < 2.0


# --- LLMProcessors against the scripted server ------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeChat]:
    with serve_chat() as fake:
        yield fake


def make_llm(api: FakeChat, **kwargs: Any) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(api.url, "test-model", api_key="k", sleep=lambda s: None, **kwargs)


def test_llm_facts_come_from_the_model(api: FakeChat) -> None:
    reply = {
        "facts": [
            {
                "subject": "Maren",
                "relation": "dances",
                "object": "salsa",
                "kind": "preference",
                "evidence": "I dance salsa every Friday.",
            },
            {"subject": "", "relation": "x", "object": "y", "kind": "event"},
        ]
    }
    api.script = [Step(content=json.dumps(reply))]
    with make_llm(api) as llm:
        processors = LLMProcessors(llm)
        assert isinstance(processors, Processors)
        facts = processors.extract_facts("Hi! I dance salsa every Friday.", speaker="Maren")
    assert facts == [
        Fact("Maren", "dances", "salsa", FactKind.PREFERENCE, "I dance salsa every Friday.")
    ]
    body = api.bodies()[0]
    assert body["response_format"]["json_schema"]["name"] == "_Facts"
    assert "Speaker: Maren" in prompt(body)
    assert processors.fallbacks == {}


def test_llm_facts_fall_back_offline_on_500_without_the_error_text(
    api: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "upstream exploded: I love error messages"
    api.script = [Step("status", status=500, message=secret)] * 3
    with make_llm(api, max_retries=2) as llm, caplog.at_level(logging.WARNING, "memoryspace.llm"):
        processors = LLMProcessors(llm)
        facts = processors.extract_facts("I live in Berlin.", speaker="Maren")
        assert llm.stats().failures == 1
    assert triples(facts) == [("Maren", FactKind.ATTRIBUTE, "Berlin")]
    assert all("exploded" not in fact.text and "error" not in fact.object for fact in facts)
    assert processors.fallbacks == {"extract_facts": 1}
    assert "using the offline processor" in caplog.text


def test_many_turns_take_a_fraction_of_a_call_each(api: FakeChat) -> None:
    api.respond = batch_reply
    turns: list[tuple[str, str | None]] = [
        (f"Turn {n}: " + ("I adore salsa." if n % 3 == 0 else "Nice weather."), "Maren")
        for n in range(16)
    ]
    with make_llm(api) as llm:
        found = LLMProcessors(llm, batch_size=8).extract_facts_many(turns)
        calls = llm.stats().calls
    assert calls / len(turns) <= 0.25
    assert [bool(facts) for facts in found] == [n % 3 == 0 for n in range(16)]
    assert found[3] == [Fact("Maren", "likes", "salsa", FactKind.PREFERENCE, turns[3][0])]


def test_every_task_falls_back_when_the_model_is_down() -> None:
    down = ScriptedLLM(lambda conversation: LLMError("down"))
    processors = LLMProcessors(down)
    text = "I'm planning to visit Anna in Lisbon next week."
    assert processors.keywords(text, 3) == offline.keywords(text, 3)
    assert processors.summarize(DIALOGUE, 2) == offline.summarize(DIALOGUE, 2)
    assert processors.continuity(text, 0.0, "Why?", 5.0) == offline.continuity(
        text, 0.0, "Why?", 5.0
    )
    assert processors.persona([text], "Ann") == offline.persona([text], "Ann")
    assert processors.importance(text) == offline.importance(text)
    assert processors.extract_facts_many([(text, None)]) == [offline.extract_facts(text)]
    assert sum(processors.fallbacks.values()) == 6
    assert down.stats().failures == 6


def test_each_task_uses_the_models_answer() -> None:
    replies = [
        '{"keywords": ["Lisbon", "lisbon", "Anna", "trip"]}',
        '{"summary": "Maren trains for a marathon."}',
        '{"score": 0.9}',
        '{"importance": 0.75}',
        json.dumps(
            {
                "entries": [
                    {"relation": "likes", "object": "salsa", "kind": "preference", "count": 2},
                    {"relation": "Likes", "object": "Salsa", "kind": "preference"},
                    {"relation": "lives in", "object": "Berlin", "kind": "attribute"},
                ],
                "traits": ["Curious"],
                "topics": ["dance"],
            }
        ),
        '{"summary": "  "}',  # unusable: the fallback answers instead
    ]
    model = ScriptedLLM(replies)
    processors = LLMProcessors(model)
    assert processors.keywords("I fly to Lisbon to see Anna.", 2) == ["lisbon", "anna"]
    assert processors.summarize(DIALOGUE, 1) == "Maren trains for a marathon."
    assert processors.continuity("a", 0.0, "b", 0.0) == pytest.approx(0.1 + 0.9 * 0.9)
    assert processors.importance("x") == 0.75
    persona = processors.persona(["..."], "Maren")
    assert [(p.relation, p.object, p.count) for p in persona.preferences] == [("likes", "salsa", 3)]
    assert persona.traits == (("curious", 1),) and persona.topics == (("dance", 1),)
    assert processors.summarize(DIALOGUE, 1) == offline.summarize(DIALOGUE, 1)
    assert processors.fallbacks == {"summarize": 1}
