"""``memoryspace bench locomo|hotpot|longmemeval`` end to end on tiny hand-written data.

The fixtures are small enough that the numbers of the question-blind baselines (``recent``)
and of BM25 on a word only one turn holds can be worked out by hand.
"""

from __future__ import annotations

import gzip
import json
import math
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from memoryspace.bench import longmemeval as lme_bench
from memoryspace.bench.longmemeval import first_of_each_type
from memoryspace.bench.mode_factory import MODE_NAMES, make_mode
from memoryspace.cli.app import app
from memoryspace.datasets.longmemeval import load_longmemeval
from memoryspace.embed import HashingEmbedder
from memoryspace.errors import InvalidInput

SHARED = Path(__file__).parents[1].parent / "shared" / "data"
CATEGORY_KEYS = {"1", "2", "3", "4", "5", "all_1_4"}
runner = CliRunner()


def _turn(dia_id: str, speaker: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text, **extra}


CONV_A = {
    "sample_id": "conv-a",
    "conversation": {
        "speaker_a": "Ana",
        "speaker_b": "Ben",
        "session_1_date_time": "9:00 am on 1 May, 2023",
        "session_1": [
            _turn("D1:1", "Ana", "I adopted a golden retriever named Biscuit."),
            _turn("D1:2", "Ben", "Cute! I went hiking in the Alps."),
            _turn("D1:3", "Ana", "I work as a nurse at the city hospital."),
        ],
        "session_2_date_time": "6:30 pm on 1 June, 2023",
        "session_2": [
            _turn("D2:1", "Ben", "My sister plays the violin in an orchestra."),
            _turn(
                "D2:2",
                "Ana",
                "I painted this last week.",
                img_url=["x"],
                blip_caption="a painting of a sunset over a lake",
            ),
            _turn("D2:3", "Ben", "I bought a new bicycle yesterday."),
        ],
    },
    "qa": [
        {
            "question": "When did Ben buy a bicycle?",
            "answer": "May 31",
            "category": 2,
            "evidence": ["D2:3"],
        },
        {
            "question": "What is the name of Ana's pet?",
            "answer": "Biscuit",
            "category": 4,
            "evidence": ["D1:1"],
        },
        {
            "question": "What does Ana do for work and what did she paint?",
            "answer": "nurse",
            "category": 1,
            "evidence": ["D1:3; D2:2"],
        },
        {
            "question": "Which instrument does Ben's sister play?",
            "category": 5,
            "adversarial_answer": "violin",
            "evidence": ["D2:1"],
        },
        {
            "question": "Would Ana enjoy camping?",
            "answer": "likely",
            "category": 3,
            "evidence": ["D"],
        },
    ],
    "observation": {"session_1_observation": "never ingested"},
    "session_summary": {"session_1_summary": "never ingested"},
}
CONV_B = {
    "sample_id": "conv-b",
    "conversation": {
        "speaker_a": "Cy",
        "speaker_b": "Di",
        "session_1_date_time": "8:00 am on 3 March, 2023",
        "session_1": [
            _turn("D1:1", "Cy", "Morning!"),
            _turn("D1:2", "Di", "I started learning Portuguese."),
        ],
    },
    "qa": [
        {
            "question": "Which language is Di learning?",
            "answer": "Portuguese",
            "category": 4,
            "evidence": ["D1:2", "D7:7"],
        },
    ],
}


@pytest.fixture
def locomo_file(tmp_path: Path) -> Path:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([CONV_A, CONV_B]), encoding="utf-8")
    return path


def _json(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    document: dict[str, Any] = json.loads(result.stdout)  # exactly one JSON document
    return document


def test_locomo_json_shape_and_hand_computed_baselines(locomo_file: Path) -> None:
    doc = _json(
        [
            "bench",
            "locomo",
            "--data",
            str(locomo_file),
            "--embedder",
            "hashing",
            "--modes",
            "memoryspace,recent,reservoir,bm25,dense",
            "--k",
            "1,2",
            "--budget",
            "10000",
            "--json",
        ]
    )
    assert set(doc) == {
        "dataset",
        "questions",
        "conversations",
        "embedder",
        "unresolved_evidence",
        "questions_without_evidence",
        "modes",
    }
    assert doc["dataset"] == "locomo" and doc["questions"] == 6
    assert doc["conversations"] == ["conv-a", "conv-b"]
    assert doc["embedder"] == HashingEmbedder().model_id
    assert doc["unresolved_evidence"] == 2  # "D" and "D7:7"
    assert doc["questions_without_evidence"] == 1  # the open-domain one had only "D"
    assert list(doc["modes"]) == ["memoryspace", "recent", "reservoir", "bm25", "dense"]
    for result in doc["modes"].values():
        assert set(result) == {
            "recall@1",
            "recall@2",
            "recall@budget10000",
            "mrr",
            "ingest_turns_per_s",
            "query_ms_p50",
            "query_ms_p95",
        }
        for metric in ("recall@1", "recall@2", "recall@budget10000", "mrr"):
            assert set(result[metric]) == CATEGORY_KEYS
            assert result[metric]["3"] is None  # no open-domain question could be scored
            assert all(0 <= v <= 1 for v in result[metric].values() if v is not None)
        assert result["ingest_turns_per_s"] > 0
        assert 0 <= result["query_ms_p50"] <= result["query_ms_p95"]

    # recent, newest first: conv-a D2:3 D2:2 D2:1 D1:3 D1:2 D1:1; conv-b D1:2 D1:1
    recent = doc["modes"]["recent"]
    assert recent["recall@1"] == {"1": 0.0, "2": 1.0, "3": None, "4": 0.5, "5": 0.0, "all_1_4": 0.5}
    assert recent["recall@2"] == {
        "1": 0.5,
        "2": 1.0,
        "3": None,
        "4": 0.5,
        "5": 0.0,
        "all_1_4": 0.625,
    }
    expected_mrr = {
        "1": 0.5,
        "2": 1.0,
        "3": None,
        "4": (1 / 6 + 1) / 2,
        "5": 1 / 3,
        "all_1_4": (0.5 + 1 + 1 / 6 + 1) / 4,
    }
    for key, value in expected_mrr.items():
        assert recent["mrr"][key] == (None if value is None else pytest.approx(value, abs=1e-4))
    # the budget holds every turn, and each of these modes ranks every turn of the scope
    for mode in ("memoryspace", "recent", "reservoir", "dense"):
        budget = doc["modes"][mode]["recall@budget10000"]
        assert {k: v for k, v in budget.items() if k != "3"} == dict.fromkeys(
            CATEGORY_KEYS - {"3"}, 1.0
        )
    # "sister" is in one turn only: BM25 puts it first
    assert doc["modes"]["bm25"]["recall@1"]["5"] == 1.0


def test_locomo_table_csv_and_chart(locomo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "bench",
            "locomo",
            "--data",
            str(locomo_file),
            "--embedder",
            "hashing",
            "--modes",
            "recent,bm25",
            "--conversations",
            "conv-a",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.exception
    assert "recall@10 by category" in result.stdout
    assert "2 temporal" in result.stdout and "all 1–4" in result.stdout
    rows = (out / "locomo.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "mode,metric,category,value"
    assert "recent,recall@5,2,1.0" in rows  # the bicycle turn is the newest of conv-a
    assert (out / "locomo_recall.png").read_bytes().startswith(b"\x89PNG")


def test_locomo_rejects_an_unknown_conversation_or_mode(locomo_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "locomo",
            "--data",
            str(locomo_file),
            "--conversations",
            "conv-z",
            "--embedder",
            "hashing",
        ],
    )
    assert isinstance(result.exception, InvalidInput) and "conv-a" in str(result.exception)
    result = runner.invoke(
        app,
        [
            "bench",
            "locomo",
            "--data",
            str(locomo_file),
            "--modes",
            "memoryspace,oracle",
            "--embedder",
            "hashing",
        ],
    )
    assert isinstance(result.exception, InvalidInput) and "--modes" in str(result.exception)


def test_mem0_is_reported_unavailable_with_the_reason(
    locomo_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mem0", None)  # as if mem0ai were not installed
    doc = _json(
        [
            "bench",
            "locomo",
            "--data",
            str(locomo_file),
            "--embedder",
            "hashing",
            "--modes",
            "recent,mem0",
            "--json",
        ]
    )
    assert set(doc["modes"]["mem0"]) == {"unavailable"}
    assert "mem0ai is not installed" in doc["modes"]["mem0"]["unavailable"]
    assert "recall@5" in doc["modes"]["recent"]


def test_mem0_runs_offline(
    locomo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mem0", reason="mem0ai is not installed (the bench extra)")
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("MEM0_DIR", str(tmp_path / "mem0"))
    monkeypatch.setenv("MEM0_TELEMETRY", "False")
    doc = _json(
        [
            "bench",
            "locomo",
            "--data",
            str(locomo_file),
            "--embedder",
            "hashing",
            "--modes",
            "dense,mem0",
            "--k",
            "1,2",
            "--json",
        ]
    )
    assert attempts == []
    mem0, dense = doc["modes"]["mem0"], doc["modes"]["dense"]
    assert "unavailable" not in mem0, mem0
    # without spaCy and fastembed mem0 ranks by cosine alone: the same order as dense
    assert mem0["recall@1"] == dense["recall@1"] and mem0["recall@2"] == dense["recall@2"]


# -- modes: one contract for all


@pytest.mark.parametrize("name", MODE_NAMES)
def test_every_mode_ranks_only_its_scope(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if name == "mem0":
        pytest.importorskip("mem0", reason="mem0ai is not installed (the bench extra)")
        monkeypatch.setenv("MEM0_DIR", str(tmp_path / "mem0"))
    records = [
        {
            "content": f"{scope} note {n}: the lighthouse keeper counts ships",
            "user": scope,
            "timestamp": 1_700_000_000.0 + n,
            "meta": {"ref": f"{scope}{n}"},
        }
        for scope in ("a", "b")
        for n in range(5)
    ]
    mode = make_mode(name, ref_key="ref", embedder=HashingEmbedder(), capacity=5)
    try:
        mode.ingest(records)
        top = mode.rank("lighthouse ships", 3, scope="a")
        everything = mode.rank("lighthouse ships", 100, scope="a")
        nothing = mode.rank("lighthouse ships", 3, scope="nobody")
    finally:
        mode.close()
    assert 0 < len(top) <= 3 and len(set(top)) == len(top)
    assert set(everything) == {f"a{n}" for n in range(5)}  # every note matches the words
    assert nothing == []


# -- HotpotQA


def _paragraph(title: str, sentences: list[str]) -> list[Any]:
    return [title, sentences]


HOTPOT = [
    {
        "_id": "h1",
        "question": "Which glacier feeds the Varn river and how long is the Varn?",
        "answer": "Ostbre",
        "supporting_facts": [["Varn", 1], ["Varn", 2]],
        "context": [
            _paragraph("Pine", ["Pine is a tree.", " It is green.", " It grows tall."]),
            _paragraph("Oak", ["Oak is a tree.", " It has acorns.", " It lives long."]),
            _paragraph(
                "Varn",
                [
                    "Varn flows north.",
                    " The Ostbre glacier feeds the Varn.",
                    " The Varn is 80 km long.",
                ],
            ),
        ],
    },
    {
        "_id": "h2",
        "question": "What colour is the Quelm flag?",
        "answer": "teal",
        "supporting_facts": [["Quelm", 0]],
        "context": [
            _paragraph("Quelm", ["The Quelm flag is teal.", " Quelm is small.", " It is old."]),
            _paragraph("Birch", ["Birch is a tree.", " It is white.", " It bends."]),
            _paragraph("Elm", ["Elm is a tree.", " It is tall.", " It is shady."]),
        ],
    },
]


def test_hotpot_json_shape_and_hand_computed_baselines(tmp_path: Path) -> None:
    path = tmp_path / "hotpot.json"
    path.write_text(json.dumps(HOTPOT), encoding="utf-8")
    doc = _json(["bench", "hotpot", "--data", str(path), "--embedder", "hashing", "--json"])
    assert set(doc) == {
        "dataset",
        "questions",
        "embedder",
        "unresolved_facts",
        "questions_without_facts",
        "modes",
    }
    assert (doc["dataset"], doc["questions"], doc["unresolved_facts"]) == ("hotpot", 2, 0)
    assert list(doc["modes"]) == ["memoryspace", "recent", "bm25", "dense"]
    for result in doc["modes"].values():
        assert set(result) == {"sf_recall@5", "all_sf_hit@5", "query_ms_p50"}
    # recent keeps the last 5 of 9 sentences: all of h1's facts, none of h2's
    assert doc["modes"]["recent"]["sf_recall@5"] == 0.5
    assert doc["modes"]["recent"]["all_sf_hit@5"] == 0.5
    # the question words Ostbre, Varn and Quelm sit in the gold sentences
    assert doc["modes"]["bm25"]["all_sf_hit@5"] == 1.0


def test_hotpot_reads_hugging_face_jsonl_with_limit_and_writes_outputs(tmp_path: Path) -> None:
    rows = []
    for item in HOTPOT:
        rows.append(
            {
                "id": item["_id"],
                "question": item["question"],
                "answer": item["answer"],
                "supporting_facts": {
                    "title": [t for t, _ in item["supporting_facts"]],
                    "sent_id": [n for _, n in item["supporting_facts"]],
                },
                "context": {
                    "title": [t for t, _ in item["context"]],
                    "sentences": [s for _, s in item["context"]],
                },
            }
        )
    path = tmp_path / "hotpot.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    doc = _json(
        [
            "bench",
            "hotpot",
            "--data",
            str(path),
            "--embedder",
            "hashing",
            "--limit",
            "1",
            "--modes",
            "recent",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert doc["questions"] == 1
    assert doc["modes"]["recent"]["all_sf_hit@5"] == 1.0
    assert (out / "hotpot.csv").read_text(encoding="utf-8").startswith("mode,metric,value")
    assert (out / "hotpot.png").read_bytes().startswith(b"\x89PNG")
    table = runner.invoke(
        app,
        [
            "bench",
            "hotpot",
            "--data",
            str(path),
            "--embedder",
            "hashing",
            "--modes",
            "memoryspace,recent",
        ],
    )
    assert table.exit_code == 0 and "0.798" in table.stdout and "0.601" in table.stdout


# -- LongMemEval


def _lme_session(text: str, answer: bool = False) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": text, "has_answer": answer},
        {"role": "assistant", "content": "Noted."},
    ]


LME_ENTRY = {
    "question_id": "h1",
    "question_type": "multi-session",
    "questions": ["Where did I move?", "What is my dog called?"],
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
        _lme_session("My dog is Rex.", True),
        _lme_session("I moved to Oslo.", True),
        _lme_session("Rex turned two.", True),
    ],
}


def test_longmemeval_turn_and_session_metrics(tmp_path: Path) -> None:
    path = tmp_path / "lme.json.gz"
    path.write_bytes(gzip.compress(json.dumps([LME_ENTRY]).encode()))
    doc = _json(
        [
            "bench",
            "longmemeval",
            "--data",
            str(path),
            "--embedder",
            "hashing",
            "--modes",
            "recent,bm25",
            "--k",
            "1,2",
            "--json",
        ]
    )
    assert (doc["dataset"], doc["questions"], doc["haystacks"]) == ("longmemeval", 2, 1)
    assert doc["groups"] == ["multi-session", "overall"]
    recent = doc["modes"]["recent"]
    # recent, turns newest first: s3#1 s3#0 s2#1 s2#0 s1#1 s1#0; sessions s3, s2, s1.
    # Q1 (s2): any@1 0, any@2 = all@2 = 1. Q2 (s1, s3): any@1 1, any@2 1, all@2 0.
    assert recent["session_any@1"]["overall"] == 0.5
    assert (recent["session_any@2"]["overall"], recent["session_all@2"]["overall"]) == (1.0, 0.5)
    # has_answer turns s1#0 s2#0 s3#0 are all within the 6 turns: recall@10 is 1 for both
    assert recent["turn_recall@10"]["multi-session"] == 1.0
    # ndcg@10, Q1: s2 at rank 2 -> (1/log2 3) / 1; Q2: s3 at 1, s1 at 3 -> (1 + 0.5)/(1 + 1/log2 3)
    q1, q2 = 1 / math.log2(3), 1.5 / (1 + 1 / math.log2(3))
    assert recent["session_ndcg@10"]["overall"] == round((q1 + q2) / 2, 4)
    # BM25 (porter stems): "move" finds s2#0 first; "dog" finds s1#0 first
    bm25 = doc["modes"]["bm25"]
    assert bm25["session_any@1"]["overall"] == 1.0
    assert bm25["session_all@1"]["overall"] == 0.5


def test_longmemeval_abstention_apart_limit_and_outputs(tmp_path: Path) -> None:
    second = dict(
        LME_ENTRY,
        question_id="h2_abs",
        questions=["What is my cat called?"],
        answers=["unknown"],
        answer_session_ids=[["s1"]],
    )
    third = dict(LME_ENTRY, question_id="h3")
    path = tmp_path / "lme.json"
    path.write_text(json.dumps([LME_ENTRY, second, third]), encoding="utf-8")
    args = ["bench", "longmemeval", "--data", str(path), "--embedder", "hashing"]
    doc = _json([*args, "--modes", "recent", "--limit", "1", "--json"])
    # one question per type: h1/0 (multi-session) and h2_abs/0 (abstention); h3 is left out
    assert (doc["questions"], doc["haystacks"], doc["abstention_questions"]) == (2, 2, 1)
    assert doc["groups"] == ["multi-session", "overall", "abstention"]
    any5 = doc["modes"]["recent"]["session_any@5"]
    assert set(any5) == {"multi-session", "overall", "abstention"}
    out = tmp_path / "out"
    table = runner.invoke(app, [*args, "--modes", "recent", "--out", str(out)])
    assert table.exit_code == 0, table.stdout
    assert "turn_recall@10" in table.stdout and "abstention" in table.stdout
    assert (out / "longmemeval.csv").read_text().startswith("mode,metric,group,value")
    assert (out / "longmemeval_turn_recall.png").stat().st_size > 0
    bad = runner.invoke(app, [*args, "--limit", "0"])
    assert isinstance(bad.exception, InvalidInput) and "--limit needs at least 1" in str(
        bad.exception
    )


def test_longmemeval_on_the_shared_data() -> None:
    path = SHARED / "longmemeval" / "longmemeval_s_dev.json.gz"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    haystacks = load_longmemeval(path)
    assert sum(len(h.questions) for h in haystacks) == 249
    # the first question of each of the six types, and the first abstention question of each
    # of the four types that have them
    sample = first_of_each_type(haystacks, 1)
    assert (len(sample), sum(q.abstention for h in sample for q in h.questions)) == (10, 4)
    answered = [h for h in sample if not h.questions[0].abstention][:2]
    doc = lme_bench.run(answered, modes=["bm25"], embedder=HashingEmbedder())
    bm25 = doc["modes"]["bm25"]
    assert 0.0 < bm25["turn_recall@50"]["overall"] <= 1.0
    assert bm25["turn_recall@10"]["overall"] <= bm25["turn_recall@50"]["overall"]


# -- the real data


def test_locomo_on_the_shared_data_conv_26() -> None:
    path = SHARED / "locomo" / "locomo_dev6.json"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    doc = _json(
        [
            "bench",
            "locomo",
            "--data",
            str(path),
            "--conversations",
            "conv-26",
            "--embedder",
            "hashing",
            "--modes",
            "memoryspace,recent,bm25,dense",
            "--json",
        ]
    )
    assert doc["questions"] == 199  # every QA of conv-26 is asked, category 5 included
    assert doc["questions_without_evidence"] == 2
    for name, result in doc["modes"].items():
        for category in CATEGORY_KEYS:
            at5, at10 = result["recall@5"][category], result["recall@10"][category]
            assert at5 <= at10, (name, category)
            b1, b2 = result["recall@budget1000"][category], result["recall@budget2000"][category]
            assert b1 <= b2, (name, category)
    recent = doc["modes"]["recent"]["recall@10"]["all_1_4"]
    for name in ("memoryspace", "bm25", "dense"):
        assert doc["modes"][name]["recall@10"]["all_1_4"] > recent + 0.1, name


def test_context_replay_reports_stability_per_allocator(locomo_file: Path, tmp_path: Path) -> None:
    doc = _json(
        [
            "bench",
            "context",
            "--data",
            str(locomo_file),
            "--embedder",
            "hashing",
            "--budget",
            "200",
            "-k",
            "5",
            "--out",
            str(tmp_path / "out"),
            "--json",
        ]
    )
    rows = doc["rows"]
    assert {row["allocator"] for row in rows} >= {"first_fit", "best_fit", "next_fit"}
    assert all(0.0 <= row["stability"] <= 1.0 for row in rows)
    assert all(row["prompt"] <= 200 for row in rows)  # the budget is never exceeded
    assert (tmp_path / "out" / "context.csv").exists()
