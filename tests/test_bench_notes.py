"""The notes and reflection benchmarks: knowledge updates (synthetic and real LongMemEval),
the duplicate stream, and the CLI that writes their CSV and chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memoryspace.bench import duplicates, knowledge_update
from memoryspace.datasets.longmemeval import ChatSession, ChatTurn, Haystack, LMEQuestion
from memoryspace.embed import HashingEmbedder
from test_cli import cli

LME = Path("/work/shared/data/longmemeval/longmemeval_oracle_dev.json")
DAY = 86_400.0


def session(id: str, when: float, *texts: str) -> ChatSession:
    turns = tuple(ChatTurn("user" if n % 2 == 0 else "assistant", t) for n, t in enumerate(texts))
    return ChatSession(id=id, timestamp=when, turns=turns)


def haystack(number: int) -> Haystack:
    sessions = (
        session("old", 1e9, "My Japan trip is in April.", "Lovely, cherry blossom season!"),
        session("chat", 1e9 + DAY, "I baked sourdough bread today.", "Nice crust?"),
        session("new", 1e9 + 2 * DAY, "The trip moved to October.", "Autumn leaves then!"),
    )
    question = LMEQuestion(
        id=f"q{number}",
        type="knowledge-update",
        question="When is my Japan trip?",
        answer="October",
        answer_session_ids=("old", "new"),
    )
    return Haystack(id=f"h{number}", question_date="", sessions=sessions, questions=(question,))


def test_reflection_puts_the_latest_value_first() -> None:
    doc = knowledge_update.run([haystack(1), haystack(2)], embedder=HashingEmbedder(), k=2)
    reflected = doc["modes"]["reflect"]
    assert doc["questions"] == 2 and reflected["latest_first"] == 2
    for row in reflected["ranks"]:  # the old user turn is closed; its session ranks by the rest
        assert row["newer_rank"] == 1 and row["older_rank"] > 1
    assert reflected["closing_groups"] == 2
    baseline = doc["modes"]["memoryspace"]
    assert all(r["older_rank"] is not None for r in baseline["ranks"])  # nothing closed
    rows = knowledge_update.table(doc)
    assert [row["mode"] for row in rows] == ["memoryspace", "reflect"]
    assert rows[1]["latest_first"] == "2 of 2"


@pytest.mark.skipif(not LME.exists(), reason=f"LongMemEval data not found at {LME}")
def test_knowledge_updates_of_real_longmemeval_questions() -> None:
    haystacks = knowledge_update.load_haystacks(LME)
    asked = knowledge_update.updates(haystacks)
    assert len(asked) == 36  # the dev half's 39 knowledge updates but 3 abstentions
    chosen = list({h.id: h for h, *_ in asked[:3]}.values())
    doc = knowledge_update.run(chosen, embedder=HashingEmbedder(), k=5)
    for result in doc["modes"].values():
        assert result["questions"] == 3 and 0 <= result["latest_first"] <= 3
        assert all(r["newer_rank"] is not None for r in result["ranks"])


def test_the_duplicate_stream_is_seeded_and_reflection_shrinks_it() -> None:
    first = duplicates.stream(30, 3, seed=1)
    assert first == duplicates.stream(30, 3, seed=1) != duplicates.stream(30, 3, seed=2)
    assert len(first) == 90 and len({n for n, _ in first}) == 30
    doc = duplicates.run(embedder=HashingEmbedder(), facts=30, repeats=3, thresholds=(0.8, 0.99))
    loose, strict = doc["rows"]
    assert loose["stored"] < 90  # exact repeats were folded on add
    assert loose["duplicates_before"] == strict["duplicates_before"] > 0.5
    assert loose["duplicates_after"] <= strict["duplicates_after"] < strict["duplicates_before"]
    assert loose["merges"] >= strict["merges"] > 0
    for row in doc["rows"]:
        assert 0 <= row["duplicates_after"] <= 1 and row["wrong_merges"] >= 0


def test_bench_duplicates_cli_writes_csv_and_chart(tmp_path: Path) -> None:
    db = tmp_path / "unused.db"
    out = tmp_path / "out"
    result = cli(
        db, "bench", "duplicates", "--facts", "12", "--repeats", "3", "--out", str(out), "--json"
    )
    doc = json.loads(result.stdout)
    assert doc["facts"] == 12 and len(doc["rows"]) == len(duplicates.THRESHOLDS)
    header = (out / "duplicates.csv").read_text().splitlines()[0]
    assert header.startswith("threshold,added,stored,duplicates_before")
    assert (out / "duplicates.png").stat().st_size > 1000
