"""The hot-tier benchmark on a tiny LoCoMo-shaped conversation with the hashing embedder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memoryspace.bench.tiered import belady_hits, plot, run
from memoryspace.errors import InvalidInput
from memoryspace.tiers import POLICY_NAMES

TOPICS = [
    "my dog Biscuit loves the beach",
    "I started a pottery class on Tuesdays",
    "we went camping near the lake",
    "my sister plays violin in an orchestra",
    "I bought a red bicycle for commuting",
    "the pottery teacher praised my vase",
    "Biscuit chased a seagull at the beach",
    "the orchestra toured three cities",
    "the bicycle got a flat tyre",
    "camping in the rain was miserable",
]


def _conversation(sample_id: str) -> dict[str, Any]:
    sessions: dict[str, Any] = {"speaker_a": "Ana", "speaker_b": "Ben"}
    for s in (1, 2):
        sessions[f"session_{s}_date_time"] = f"9:00 am on {s} May, 2023"
        sessions[f"session_{s}"] = [
            {"speaker": "Ana" if n % 2 else "Ben", "dia_id": f"D{s}:{n + 1}", "text": text}
            for n, text in enumerate(TOPICS[(s - 1) * 5 : s * 5] + TOPICS[s * 5 - 3 : s * 5])
        ]
    questions = [
        "What is the dog called?",
        "What class did Ana take?",
        "Where did they go camping?",
        "What does the sister play?",
        "What did Ben buy?",
        "What happened to the bicycle?",
        "What did the dog chase?",
        "What did the teacher praise?",
    ]
    return {
        "sample_id": sample_id,
        "conversation": sessions,
        "qa": [
            {"question": q, "answer": "x", "category": 4, "evidence": ["D1:1"]} for q in questions
        ],
    }


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([_conversation("conv-x"), _conversation("conv-y")]), "utf-8")
    return path


def test_rows_cover_every_configuration_and_add_up(data: Path) -> None:
    rows = run(data, conversation="conv-y", capacity=4, embedder="hashing", k=3)
    assert len(rows) == len(POLICY_NAMES) * 2 * 2 + 1
    assert {r["conversation"] for r in rows} == {"conv-y"}
    questions = 8
    requests = {r["requests"] for r in rows}
    assert len(requests) == 1 and 0 < requests.pop() <= questions * 3
    by_config = {(r["policy"], r["write_policy"], r["promotion_batch"]): r for r in rows}
    for policy in POLICY_NAMES:
        for batch in (1, 4):
            through = by_config[(policy, "write_through", batch)]
            back = by_config[(policy, "write_back", batch)]
            # the write policy changes when the store is written, not what is cached
            for counter in ("hits", "page_faults", "evictions", "promotions"):
                assert through[counter] == back[counter]
            assert through["hits"] + through["page_faults"] == through["requests"]
            assert 0.0 <= through["hit_rate"] <= 1.0
            assert through["store_writes"] == questions and through["write_backs"] == 0
            assert 0 < back["store_writes"] == back["write_backs"] <= questions
    opt = by_config[("opt", "", 1)]
    assert all(opt["hits"] >= by_config[(p, "write_through", 1)]["hits"] for p in POLICY_NAMES)


def test_a_tier_larger_than_the_conversation_misses_each_record_once(data: Path) -> None:
    rows = run(
        data, capacity=64, embedder="hashing", k=3, policies=["lru"], write_policies=["write_back"]
    )
    batch1, batch4, opt = rows
    assert batch1["page_faults"] == opt["page_faults"]  # only compulsory misses
    assert batch1["evictions"] == opt["evictions"] == 0
    assert batch4["page_faults"] <= batch1["page_faults"]  # read-ahead saves faults
    assert batch4["promotions"] >= batch1["promotions"]


def test_belady_is_the_offline_optimum_on_a_known_trace() -> None:
    trace = [["a", "b", "c"], ["a", "d"], ["b", "a"], ["c"]]  # a b c a d b a c
    # capacity 3: a b c fault; a hits; d faults and evicts c (next needed last); b, a hit;
    # c faults.
    assert belady_hits(trace, 3) == (3, 5)
    assert belady_hits(trace, 100) == (4, 4)
    assert belady_hits(trace, 1) == (0, 8)


def test_unknown_conversation_and_bad_capacity_are_refused(data: Path) -> None:
    with pytest.raises(InvalidInput):
        run(data, conversation="conv-z", embedder="hashing")
    with pytest.raises(InvalidInput):
        run(data, capacity=0, embedder="hashing")


def test_plot_writes_a_png(data: Path, tmp_path: Path) -> None:
    rows = run(data, capacity=4, embedder="hashing", k=3, policies=["lru", "arc"])
    out = plot(rows, tmp_path / "out" / "tiered.png")
    assert out.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(InvalidInput):
        plot([], tmp_path / "empty.png")
