"""The GC ablation on a tiny synthetic text, and once on text8 when the data is there."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memoryspace.bench.capacity import query_plan, read_chunks, working_set
from memoryspace.bench.gc_ablation import COLLECTORS, TRIGGERS, run, run_one
from memoryspace.cli.app import app
from memoryspace.errors import InvalidInput

runner = CliRunner()
DATA = Path(__file__).parents[1].parent / "shared" / "data"


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    rng = random.Random(11)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(1000)]
    path = tmp_path / "stream.txt"
    path.write_text(" ".join(rng.choice(words) for _ in range(3000)), encoding="utf-8")
    return path


def test_json_has_one_row_per_collector_and_trigger(text_file: Path) -> None:
    args = ["bench", "gc", "--data", str(text_file), "--chunk-size", "256", "--limit", "60"]
    result = runner.invoke(app, [*args, "--capacity", "16", "--query-interval", "5", "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    doc = json.loads(result.stdout)
    assert doc["benchmark"] == "gc"
    assert "fragmentation" in doc["skipped"]
    assert [(r["collector"], r["trigger"]) for r in doc["rows"]] == [
        (c, t) for c in COLLECTORS for t in TRIGGERS
    ]
    for row in doc["rows"]:
        assert row["gc_events"] > 0
        assert row["pause_ms_p50"] <= row["pause_ms_p99"]
        assert row["records_kept"] <= row["max_live"]
        assert row["records_kept"] + row["collected"] == 60
        assert 0 <= row["hit@1"] <= row["hit@5"] <= 1


def test_every_configuration_gets_the_working_set_queries(text_file: Path) -> None:
    chunks = read_chunks(text_file, 256, 60)
    plan = query_plan(len(chunks), capacity=16, query_interval=5, seed=1)
    assert len(plan) == len(chunks) // 5 - 1
    for end, target in plan.items():
        assert target in working_set(plan, end, 16)
    rows = [run_one(chunks, c, "periodic", capacity=16, query_interval=5) for c in COLLECTORS]
    assert {row["queries"] for row in rows} == {len(plan)}


def test_collecting_expired_chunks_bounds_the_live_set(text_file: Path) -> None:
    chunks = read_chunks(text_file, 256, 60)
    row = run_one(chunks, "ttl", "periodic", capacity=16, query_interval=5)
    # TTL 32 s, a collection every 4 s, counted just before it runs: 32 + 4 + 1 at most.
    assert row["max_live"] <= 37
    assert row["hit@5"] > 0.8


def test_unknown_names_are_refused(text_file: Path) -> None:
    with pytest.raises(InvalidInput, match="trigger"):
        run(text_file, triggers=["fragmentation"])
    with pytest.raises(InvalidInput, match="collector"):
        run(text_file, collectors=["refcount"])
    with pytest.raises(InvalidInput, match="--capacity"):
        run(text_file, capacity=8, query_interval=5)


@pytest.mark.skipif(
    not (DATA / "text8" / "text8_prefix.txt").is_file(),
    reason=f"the shared evaluation data is absent ({DATA / 'text8'})",
)
def test_text8_run() -> None:
    doc = run(
        DATA / "text8" / "text8_prefix.txt",
        limit=300,
        capacity=64,
        collectors=["mark_sweep"],
        triggers=["periodic", "bandit"],
    )
    assert [r["trigger"] for r in doc["rows"]] == ["periodic", "bandit"]
    for row in doc["rows"]:
        assert row["queries"] == 29
        assert row["hit@5"] >= 0.9
