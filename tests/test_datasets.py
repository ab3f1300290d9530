"""Data set loaders: HotpotQA in both shapes, LoCoMo evidence and ingest records, LongMemEval."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memoryspace.datasets import (
    load_hotpot,
    load_locomo,
    load_longmemeval,
    parse_evidence,
    resolve_evidence,
)
from memoryspace.datasets.locomo import locomo_records, select_conversations
from memoryspace.errors import InvalidInput

SHARED = Path(__file__).parents[1].parent / "shared" / "data"

# -- HotpotQA

ORIGINAL = {
    "_id": "q1",
    "question": "Which city is the capital of the country Lake Zorn lies in?",
    "answer": "Velmar",
    "type": "bridge",
    "level": "easy",
    "supporting_facts": [["Lake Zorn", 0], ["Orland", 1], ["Orland", 7]],
    "context": [
        ["Lake Zorn", ["Lake Zorn is a lake in Orland.", " It is deep."]],
        ["Orland", ["Orland is a country.", " Its capital is Velmar."]],
    ],
}
HUGGING_FACE = {
    "id": "q1",
    "question": ORIGINAL["question"],
    "answer": "Velmar",
    "type": "bridge",
    "level": "easy",
    "supporting_facts": {"title": ["Lake Zorn", "Orland", "Orland"], "sent_id": [0, 1, 7]},
    "context": {
        "title": ["Lake Zorn", "Orland"],
        "sentences": [
            ["Lake Zorn is a lake in Orland.", " It is deep."],
            ["Orland is a country.", " Its capital is Velmar."],
        ],
    },
}


def _check_hotpot(path: Path) -> None:
    (question,) = load_hotpot(path)
    assert question.id == "q1" and question.answer == "Velmar" and question.level == "easy"
    assert [p.title for p in question.paragraphs] == ["Lake Zorn", "Orland"]
    assert question.paragraphs[1].sentences == ("Orland is a country.", " Its capital is Velmar.")
    assert question.supporting_facts == (("Lake Zorn", 0), ("Orland", 1), ("Orland", 7))
    found, missing = question.gold_refs()
    assert found == ["Lake Zorn#0", "Orland#1"]
    assert missing == ["Orland#7"]  # there is no eighth sentence
    assert [ref for ref, _ in question.sentence_refs()] == [
        "Lake Zorn#0",
        "Lake Zorn#1",
        "Orland#0",
        "Orland#1",
    ]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([ORIGINAL]),
        json.dumps([HUGGING_FACE]),
        json.dumps(HUGGING_FACE),
        json.dumps({"data": [HUGGING_FACE]}),
        json.dumps(HUGGING_FACE) + "\n\n",
        "\n" + json.dumps(ORIGINAL) + "\n",
    ],
    ids=["original", "hf-list", "hf-row", "hf-data", "hf-jsonl", "original-jsonl"],
)
def test_hotpot_reads_both_shapes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "hotpot.json"
    path.write_text(text, encoding="utf-8")
    _check_hotpot(path)


def test_hotpot_jsonl_of_several_rows_and_limit(tmp_path: Path) -> None:
    rows = [dict(HUGGING_FACE, id=f"q{n}") for n in range(3)]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert [q.id for q in load_hotpot(path)] == ["q0", "q1", "q2"]
    assert [q.id for q in load_hotpot(path, limit=2)] == ["q0", "q1"]


@pytest.mark.parametrize(
    "row",
    [
        {"question": "no id", "supporting_facts": [], "context": []},
        {"_id": "x", "question": "q", "context": []},
        {"_id": "x", "question": "q", "supporting_facts": "nope", "context": []},
        {
            "_id": "x",
            "question": "q",
            "supporting_facts": {"title": ["a"], "sent_id": []},
            "context": [],
        },
        {"_id": "x", "question": "q", "supporting_facts": [], "context": [["t"]]},
        ["not", "an", "object"],
    ],
)
def test_hotpot_rejects_malformed_rows(tmp_path: Path, row: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([row]), encoding="utf-8")
    with pytest.raises(InvalidInput):
        load_hotpot(path)


def test_hotpot_rejects_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad\.json:1"):
        load_hotpot(path)


# -- LoCoMo


@pytest.mark.parametrize(
    ("raw", "ids", "unparsed"),
    [
        (["D8:6; D9:17"], ["D8:6", "D9:17"], []),
        (["D:11:26"], ["D11:26"], []),
        (["D"], [], ["D"]),
        (["D1:3", "D2:4"], ["D1:3", "D2:4"], []),
        ("D3:1", ["D3:1"], []),
        (["D1:2;", "", "session 4"], ["D1:2"], ["session", "4"]),
    ],
)
def test_locomo_evidence_is_parsed_leniently(raw: Any, ids: list[str], unparsed: list[str]) -> None:
    assert parse_evidence(raw) == (ids, unparsed)


def _locomo_sample() -> dict[str, Any]:
    return {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a puppy."},
                {
                    "speaker": "Ben",
                    "dia_id": "D1:2",
                    "text": "Look!",
                    "img_url": ["x"],
                    "blip_caption": "a photo of a red kayak",
                },
            ],
            "session_2_date_time": "10:00 am on 9 June, 2023",
            "session_2": [{"speaker": "Ana", "dia_id": "D2:1", "text": "The puppy is Rex."}],
        },
        "qa": [
            {
                "question": "QA-SENTINEL what pet?",
                "answer": "ANSWER-SENTINEL",
                "category": 4,
                "evidence": ["D1:1; D2:1", "D9:9", "D"],
            },
        ],
        "observation": {"session_1_observation": "OBSERVATION-SENTINEL"},
        "session_summary": {"session_1_summary": "SUMMARY-SENTINEL"},
        "event_summary": {"events_session_1": "EVENT-SENTINEL"},
    }


def test_locomo_records_hold_only_dialogue(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([_locomo_sample()]), encoding="utf-8")
    (conversation,) = load_locomo(path)
    records = locomo_records(conversation)
    assert [r["meta"]["dia_id"] for r in records] == ["D1:1", "D1:2", "D2:1"]
    assert all(r["user"] == "conv-x" for r in records)
    assert [r["meta"]["speaker"] for r in records] == ["Ana", "Ben", "Ana"]
    assert "a photo of a red kayak" in records[1]["content"]
    may_8 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC).timestamp()
    june_9 = datetime(2023, 6, 9, 10, 0, tzinfo=UTC).timestamp()
    assert [r["timestamp"] for r in records] == [may_8, may_8, june_9]
    text = json.dumps(records)
    for sentinel in ("QA-SENTINEL", "ANSWER", "OBSERVATION", "SUMMARY", "EVENT-SENTINEL"):
        assert sentinel not in text


def test_locomo_evidence_resolves_against_the_turns(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(_locomo_sample()), encoding="utf-8")
    (conversation,) = load_locomo(path)
    found, missing = resolve_evidence(conversation, conversation.questions[0])
    assert found == ["D1:1", "D2:1"]
    assert missing == ["D9:9", "D"]


def test_select_conversations(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    second = dict(_locomo_sample(), sample_id="conv-y")
    path.write_text(json.dumps([_locomo_sample(), second]), encoding="utf-8")
    both = load_locomo(path)
    assert [c.sample_id for c in select_conversations(both, None)] == ["conv-x", "conv-y"]
    assert [c.sample_id for c in select_conversations(both, ["conv-y"])] == ["conv-y"]
    with pytest.raises(InvalidInput, match="conv-z"):
        select_conversations(both, ["conv-z"])


# -- LongMemEval


def _session(text: str, answer: bool = False) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": text, "has_answer": answer},
        {"role": "assistant", "content": "Noted."},
    ]


DERIVED = {
    "question_id": "h1",
    "question_type": "knowledge-update",
    "questions": ["Where did I move?", "What is my dog's name?"],
    "answers": ["Oslo", "Rex"],
    "answer_session_ids": [["s2"], ["s1", "s3"]],
    "question_date": "2023/12/18 (Mon) 04:17",
    "haystack_dates": [
        "2023/07/12 (Wed) 10:14",
        "2023/08/02 (Wed) 05:58",
        "2023/09/01 (Fri) 03:36",
    ],
    "haystack_session_ids": ["s1", "s2", "s3"],
    "haystack_sessions": [
        _session("My dog is Rex.", True),
        _session("I moved to Oslo.", True),
        _session("Rex turned two."),
    ],
}
ORIGINAL_LME = {
    "question_id": "q9",
    "question_type": "single-session-user",
    "question": "Where did I move?",
    "answer": "Oslo",
    "question_date": "2023/12/18 (Mon) 04:17",
    "answer_session_ids": ["s2"],
    "haystack_dates": DERIVED["haystack_dates"][:2],
    "haystack_session_ids": ["s1", "s2"],
    "haystack_sessions": DERIVED["haystack_sessions"][:2],
}


def test_longmemeval_reads_derived_and_original_entries(tmp_path: Path) -> None:
    path = tmp_path / "lme.json"
    path.write_text(json.dumps([DERIVED, ORIGINAL_LME]), encoding="utf-8")
    derived, original = load_longmemeval(path)
    assert [q.question for q in derived.questions] == DERIVED["questions"]
    assert [q.answer_session_ids for q in derived.questions] == [("s2",), ("s1", "s3")]
    assert [q.id for q in derived.questions] == ["h1/0", "h1/1"]
    assert [s.id for s in derived.sessions] == ["s1", "s2", "s3"]
    assert derived.sessions[0].timestamp == datetime(2023, 7, 12, 10, 14, tzinfo=UTC).timestamp()
    assert derived.sessions[0].turns[0].has_answer and not derived.sessions[2].turns[0].has_answer
    (question,) = original.questions
    assert (question.id, question.answer, question.answer_session_ids) == ("q9", "Oslo", ("s2",))
    assert len(original.sessions) == 2


def test_longmemeval_rejects_mismatched_lists(tmp_path: Path) -> None:
    path = tmp_path / "lme.json"
    path.write_text(json.dumps([dict(DERIVED, haystack_session_ids=["s1"])]), encoding="utf-8")
    with pytest.raises(InvalidInput, match="differ in length"):
        load_longmemeval(path)
    path.write_text(json.dumps([{"question_id": "x"}]), encoding="utf-8")
    with pytest.raises(InvalidInput, match="not LongMemEval"):
        load_longmemeval(path)


def test_longmemeval_loads_the_shared_file() -> None:
    path = SHARED / "longmemeval" / "lme_s_derived_3haystacks.json"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    haystacks = load_longmemeval(path)
    assert len(haystacks) == 3
    assert sum(len(h.questions) for h in haystacks) == 26
    for haystack in haystacks:
        ids = {s.id for s in haystack.sessions}
        assert all(s.timestamp is not None for s in haystack.sessions)
        for question in haystack.questions:
            assert question.answer_session_ids and set(question.answer_session_ids) <= ids
