"""Shape and annotation checks for the demo's sample conversation.

The checks are written as functions that return a list of problems, so that the same code can be
run against the shipped file (expecting no problems) and against deliberately broken copies
(expecting problems). That keeps the evidence annotations from silently rotting when turns are
edited, inserted or removed.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from importlib.resources import files
from typing import Any

import pytest

MIN_SESSIONS = 6
MIN_TURNS = 240
QUESTION_TYPES = {"single-hop", "multi-hop", "temporal", "open-domain"}

# Words too common to count as evidence that a turn supports an answer.
STOPWORDS = frozenset(
    """
    a an the and or but so of to in on at for with by from into as is are was were be been
    it its he she him her his they them their we you your i me my our this that these those
    what which who whom when where why how do does did not no yes s st nd rd th ll ve re d
    """.split()  # noqa: SIM905 - a word block reads better than a 70-item list literal
)

Data = dict[str, Any]


def load_sample() -> Data:
    resource = files("memoryspace.demo") / "sample_conversation.json"
    data: Data = json.loads(resource.read_text(encoding="utf-8"))
    return data


def content_words(text: str) -> set[str]:
    """Lower-cased words and numbers, punctuation dropped ("51:37" -> {"51", "37"})."""
    return {w for w in re.findall(r"[a-z]+|[0-9]+", text.lower()) if w not in STOPWORDS}


def turn_at(data: Data, session_id: int, index: int) -> dict[str, Any] | None:
    for session in data["sessions"]:
        if session["id"] == session_id:
            turns: list[dict[str, Any]] = session["turns"]
            return turns[index] if 0 <= index < len(turns) else None
    return None


def shape_problems(data: Data) -> list[str]:
    problems: list[str] = []
    for key in ("title", "description", "license", "speakers", "sessions", "questions"):
        if key not in data:
            problems.append(f"missing top-level key {key!r}")
    if problems:
        return problems

    speakers = set(data["speakers"])
    if len(speakers) < 2:
        problems.append("fewer than two speakers")
    sessions = data["sessions"]
    if len(sessions) < MIN_SESSIONS:
        problems.append(f"only {len(sessions)} sessions")
    total_turns = sum(len(s["turns"]) for s in sessions)
    if total_turns < MIN_TURNS:
        problems.append(f"only {total_turns} turns")

    ids = [s["id"] for s in sessions]
    if len(set(ids)) != len(ids):
        problems.append(f"duplicate session ids: {ids}")

    previous: datetime | None = None
    for session in sessions:
        sid = session["id"]
        try:
            when = datetime.fromisoformat(session["date"])
        except (TypeError, ValueError):
            problems.append(f"session {sid}: unparseable date {session['date']!r}")
            continue
        if previous is not None and when <= previous:
            problems.append(f"session {sid}: date {when} is not after {previous}")
        previous = when
        if not session["turns"]:
            problems.append(f"session {sid}: no turns")
        for i, turn in enumerate(session["turns"]):
            if turn.get("speaker") not in speakers:
                problems.append(f"session {sid} turn {i}: unknown speaker {turn.get('speaker')!r}")
            text = turn.get("text")
            if not isinstance(text, str) or not text.strip():
                problems.append(f"session {sid} turn {i}: empty text")
    return problems


def evidence_problems(data: Data) -> list[str]:
    problems: list[str] = []
    if not data["questions"]:
        problems.append("no questions")
    for q in data["questions"]:
        label = q.get("question", "<no question>")
        if q.get("type") not in QUESTION_TYPES:
            problems.append(f"{label}: unknown type {q.get('type')!r}")
        answer_words = content_words(q.get("answer", ""))
        if not answer_words:
            problems.append(f"{label}: answer has no content words")
        evidence = q.get("evidence") or []
        if not evidence:
            problems.append(f"{label}: no evidence")
        texts: list[str] = []
        for ref in evidence:
            if not (isinstance(ref, list) and len(ref) == 2):
                problems.append(f"{label}: malformed evidence {ref!r}")
                continue
            turn = turn_at(data, ref[0], ref[1])
            if turn is None:
                problems.append(f"{label}: evidence {ref} points at no turn")
                continue
            texts.append(turn["text"])
            # Every cited turn must at least talk about something in the question or answer.
            if not content_words(turn["text"]) & (answer_words | content_words(label)):
                problems.append(f"{label}: evidence {ref} shares no word with question or answer")
        if texts and not any(answer_words & content_words(t) for t in texts):
            problems.append(f"{label}: no evidence turn contains a word of {q.get('answer')!r}")
    return problems


@pytest.fixture(scope="module")
def sample() -> Data:
    return load_sample()


def test_metadata(sample: Data) -> None:
    assert sample["title"].strip()
    assert sample["description"].strip()
    assert sample["license"].startswith("CC0-1.0")


def test_shape(sample: Data) -> None:
    assert shape_problems(sample) == []


def test_sizes(sample: Data) -> None:
    assert len(sample["sessions"]) >= MIN_SESSIONS
    assert sum(len(s["turns"]) for s in sample["sessions"]) >= MIN_TURNS
    assert len(sample["questions"]) >= 12


def test_question_types_are_mixed(sample: Data) -> None:
    assert {q["type"] for q in sample["questions"]} == QUESTION_TYPES


def test_evidence(sample: Data) -> None:
    assert evidence_problems(sample) == []


# The checks above must be able to fail: each broken copy below has to be reported.


def test_detects_too_few_sessions(sample: Data) -> None:
    broken = copy.deepcopy(sample)
    broken["sessions"] = broken["sessions"][:2]
    assert any("sessions" in p for p in shape_problems(broken))


def test_detects_dates_out_of_order(sample: Data) -> None:
    broken = copy.deepcopy(sample)
    first, second = broken["sessions"][0], broken["sessions"][1]
    first["date"], second["date"] = second["date"], first["date"]
    assert any("is not after" in p for p in shape_problems(broken))


def test_detects_bad_date(sample: Data) -> None:
    broken = copy.deepcopy(sample)
    broken["sessions"][0]["date"] = "last Tuesday"
    assert any("unparseable date" in p for p in shape_problems(broken))


def test_detects_unknown_speaker_and_empty_text(sample: Data) -> None:
    broken = copy.deepcopy(sample)
    broken["sessions"][0]["turns"][0]["speaker"] = "Nobody"
    broken["sessions"][0]["turns"][1]["text"] = "   "
    problems = shape_problems(broken)
    assert any("unknown speaker" in p for p in problems)
    assert any("empty text" in p for p in problems)


def test_detects_dangling_evidence(sample: Data) -> None:
    broken = copy.deepcopy(sample)
    broken["questions"][0]["evidence"] = [[1, 10_000]]
    broken["questions"][1]["evidence"] = [[999, 0]]
    problems = evidence_problems(broken)
    assert sum("points at no turn" in p for p in problems) == 2


def test_detects_evidence_pointing_at_the_wrong_turn(sample: Data) -> None:
    # Aim every question at one unrelated turn: most answers cannot be found there.
    broken = copy.deepcopy(sample)
    for q in broken["questions"]:
        q["evidence"] = [[broken["sessions"][0]["id"], 1]]
    problems = evidence_problems(broken)
    assert len(problems) >= len(broken["questions"]) // 2


def test_detects_edited_turn(sample: Data) -> None:
    # Rewording a cited turn so the answer disappears must be caught.
    broken = copy.deepcopy(sample)
    question = broken["questions"][0]
    for sid, index in question["evidence"]:
        turn = turn_at(broken, sid, index)
        assert turn is not None
        turn["text"] = "Anyway, how was your day?"
    assert any(question["question"] in p for p in evidence_problems(broken))


def test_content_words() -> None:
    assert content_words("It's 51:37, the Salt Orchard!") == {"51", "37", "salt", "orchard"}
    assert content_words("31st") == {"31"}
