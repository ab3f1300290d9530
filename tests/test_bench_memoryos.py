"""``memoryspace bench locomo --modes memoryos`` on a tiny LoCoMo-shaped file, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from memoryspace.bench.memoryos_mode import MemoryOSMode
from memoryspace.cli.app import app
from memoryspace.embed import HashingEmbedder

runner = CliRunner()


def _turn(dia_id: str, speaker: str, text: str) -> dict[str, Any]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text}


CONVERSATION = {
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Ana",
        "speaker_b": "Ben",
        "session_1_date_time": "9:00 am on 1 May, 2023",
        "session_1": [
            _turn("D1:1", "Ana", "I adopted a golden retriever named Biscuit."),
            _turn("D1:2", "Ben", "Cute! I went hiking in the Alps."),
            _turn("D1:3", "Ana", "I work as a nurse at the city hospital."),
            _turn("D1:4", "Ben", "That sounds demanding."),
            _turn("D1:5", "Ben", "Also, my sister plays the violin."),
        ],
        "session_2_date_time": "6:30 pm on 1 June, 2023",
        "session_2": [
            _turn("D2:1", "Ana", "I painted a sunset over a lake."),
            _turn("D2:2", "Ben", "I bought a new bicycle yesterday."),
        ]
        + [_turn(f"D2:{n}", "Ana" if n % 2 else "Ben", f"filler line {n}") for n in range(3, 30)],
    },
    "qa": [
        {"question": "What is Ana's dog called?", "answer": "Biscuit", "category": 4,
         "evidence": ["D1:1"]},
        {"question": "What instrument does Ben's sister play?", "answer": "violin",
         "category": 4, "evidence": ["D1:5"]},
        {"question": "When did Ben buy a bicycle?", "answer": "May 31", "category": 2,
         "evidence": ["D2:2"]},
    ],
}  # fmt: skip


def test_memoryos_mode_json_has_recalls_and_zero_llm_calls(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([CONVERSATION]), encoding="utf-8")
    args = ["bench", "locomo", "--data", str(path), "--modes", "memoryspace,memoryos"]
    result = runner.invoke(app, [*args, "--embedder", "hashing", "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    doc = json.loads(result.stdout)
    entry = doc["modes"]["memoryos"]
    assert entry["llm_calls_per_turn"] == 0.0
    assert "llm_calls_per_turn" not in doc["modes"]["memoryspace"]
    for metric in ("recall@5", "recall@10", "recall@budget1000", "mrr"):
        assert 0.0 <= entry[metric]["all_1_4"] <= 1.0
    assert entry["recall@budget2000"]["all_1_4"] == 1.0  # every turn fits: all evidence found


def test_pages_pair_the_speakers_and_expand_to_dia_ids() -> None:
    from memoryspace.datasets.locomo import conversation_from_json, locomo_records

    mode = MemoryOSMode("dia_id", HashingEmbedder())
    try:
        mode.ingest(locomo_records(conversation_from_json(CONVERSATION)))
        conversation = mode.conversations["conv-x"]
        pages = list(mode.space.scan(user="conv-x", kind="turn"))
        assert pages[0].meta["dia_ids"] == ["D1:1", "D1:2"]
        assert pages[0].content.startswith("Ana: I adopted") and "\nBen: Cute!" in pages[0].content
        assert pages[2].meta["dia_ids"] == ["D1:5"] and pages[2].meta["user_text"] == ""
        assert mode.pages == conversation.turns_added == len(pages)
        ranked = mode.rank("Biscuit the golden retriever", 6, scope="conv-x")
        assert len(ranked) == len(set(ranked)) <= 6
        assert ranked[:2] == ["D1:1", "D1:2"]  # a page expands to its turns, in order
        assert mode.rank("anything", 5, scope="nobody") == []
    finally:
        mode.close()


def test_pages_keep_their_session_and_never_span_two() -> None:
    from memoryspace.datasets.locomo import conversation_from_json, locomo_records

    sample = {
        "sample_id": "conv-s",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "9:00 am on 1 May, 2023",
            "session_1": [_turn("D1:1", "Ana", "I bought a kayak."), _turn("D1:2", "Ana", "Bye!")],
            "session_2_date_time": "6:30 pm on 1 June, 2023",
            "session_2": [_turn("D2:1", "Ben", "Hi again."), _turn("D2:2", "Ana", "Hello.")],
        },
        "qa": [],
    }
    mode = MemoryOSMode("dia_id", HashingEmbedder())
    try:
        mode.ingest(locomo_records(conversation_from_json(sample)))
        pages = list(mode.space.scan(user="conv-s", kind="turn"))
        assert [p.meta["dia_ids"] for p in pages] == [["D1:1"], ["D1:2"], ["D2:1"], ["D2:2"]]
        assert [p.session for p in pages] == ["conv-s/session_1"] * 2 + ["conv-s/session_2"] * 2
    finally:
        mode.close()


def test_paper_retrieval_stays_reachable_from_the_mode() -> None:
    from memoryspace.conversation import ConversationSettings
    from memoryspace.datasets.locomo import conversation_from_json, locomo_records

    mode = MemoryOSMode("dia_id", HashingEmbedder(), settings=ConversationSettings.paper())
    try:
        mode.ingest(locomo_records(conversation_from_json(CONVERSATION)))
        conversation = mode.conversations["conv-x"]
        assert conversation.settings.page_ranker == "dense"
        assert conversation.settings.segment_ranker == "fscore"
        assert conversation.settings.top_m == 5
        assert conversation.settings.user_label == "Ana"  # the mode's labels are kept
        ranked = mode.rank("Biscuit the golden retriever", 6, scope="conv-x")
        assert ranked[:2] == ["D1:1", "D1:2"]
    finally:
        mode.close()


def test_with_a_model_configured_the_mode_counts_its_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chat_server import batch_reply, serve_chat

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([CONVERSATION]), encoding="utf-8")
    with serve_chat() as api:
        api.respond = batch_reply
        monkeypatch.setenv("MEMORYSPACE_LLM_URL", api.url)
        monkeypatch.setenv("MEMORYSPACE_LLM_MODEL", "test-model")
        args = ["bench", "locomo", "--data", str(path), "--modes", "memoryos"]
        result = runner.invoke(app, [*args, "--embedder", "hashing", "--json"])
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        calls = len(api.requests)
    from memoryspace.datasets.locomo import conversation_from_json, locomo_records
    from memoryspace.llm import OfflineProcessors

    offline = MemoryOSMode("dia_id", HashingEmbedder(), processors=OfflineProcessors())
    offline.ingest(locomo_records(conversation_from_json(CONVERSATION)))
    pages = offline.pages
    offline.close()
    entry = json.loads(result.stdout)["modes"]["memoryos"]
    assert calls > 0
    assert entry["llm_calls_per_turn"] == round(calls / pages, 4) <= 0.25
