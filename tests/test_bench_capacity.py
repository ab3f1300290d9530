"""The capacity benchmark on a tiny synthetic text, and once on text8 when the data is there."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

import memoryspace.cli.bench  # noqa: F401  (registers the bench commands)
from memoryspace.bench.capacity import (
    BM25Index,
    query_span,
    read_chunks,
    run,
    run_baseline,
    run_memoryspace,
)
from memoryspace.cli.app import app
from memoryspace.errors import InvalidInput

runner = CliRunner()
DATA = Path(__file__).parents[1].parent / "shared" / "data"
ROW_KEYS = [
    "method",
    "collector",
    "capacity",
    "seed",
    "queries",
    "hit@1",
    "hit@5",
    "gc_pause_ms_p99",
    "page_faults",
]


def _text(words: int = 4000) -> str:
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(3, 8))) for _ in range(1500)]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "stream.txt"
    path.write_text(_text(), encoding="utf-8")
    return path


def test_json_document_has_exactly_the_documented_shape(text_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "capacity",
            "--data",
            str(text_file),
            "--chunk-size",
            "256",
            "--limit",
            "60",
            "--capacities",
            "20,40",
            "--query-interval",
            "5",
            "--json",
        ],
    )
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    doc = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert list(doc) == ["dataset", "rows"]
    assert doc["dataset"] == "stream.txt"
    assert len(doc["rows"]) == 2 * 4  # capacities × (2 baselines + 2 collectors)
    for row in doc["rows"]:
        assert list(row) == ROW_KEYS
        assert row["method"] in ("memoryspace", "sliding", "reservoir")
        assert (row["collector"] is None) == (row["method"] != "memoryspace")
        assert row["queries"] > 0
        assert 0 <= row["hit@1"] <= row["hit@5"] <= 1
        assert row["page_faults"] == 0


def test_csv_and_png_are_written(text_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["bench", "capacity", "--data", str(text_file), "--chunk-size", "256"]
    args += ["--limit", "30", "--capacities", "10", "--query-interval", "5"]
    result = runner.invoke(app, [*args, "--collectors", "ttl_mark", "--out", str(out)])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert (out / "capacity.csv").read_text().startswith("method,collector,capacity")
    assert (out / "capacity.png").stat().st_size > 0
    assert "sliding" in result.stdout


def test_sliding_window_holding_everything_always_hits(text_file: Path) -> None:
    chunks = read_chunks(text_file, 256, 60)
    outcome = run_baseline(chunks, "sliding", capacity=len(chunks), query_interval=5)
    assert outcome.row["queries"] == len(chunks) // 5 - 1
    assert outcome.row["hit@1"] == 1.0
    assert outcome.max_live == len(chunks)


def test_reservoir_is_deterministic_per_seed_and_bounded(text_file: Path) -> None:
    chunks = read_chunks(text_file, 256, 60)
    first = run_baseline(chunks, "reservoir", capacity=15, query_interval=5, seed=3)
    again = run_baseline(chunks, "reservoir", capacity=15, query_interval=5, seed=3)
    assert first.row == again.row
    assert first.max_live == 15


@pytest.mark.parametrize("collector", ["ttl_mark", "ttl_mark_gen"])
def test_memoryspace_never_holds_more_than_its_capacity(text_file: Path, collector: str) -> None:
    chunks = read_chunks(text_file, 256, 60)
    outcome = run_memoryspace(chunks, collector, capacity=20, query_interval=5)
    assert outcome.max_live == 20
    assert outcome.row["queries"] == len(chunks) // 5 - 1
    assert outcome.row["hit@5"] > 0.8
    assert outcome.row["gc_pause_ms_p99"] > 0


def test_bm25_index_forgets_removed_documents() -> None:
    index = BM25Index()
    index.add(1, "red apple tree")
    index.add(2, "green pear tree")
    assert index.top("apple", 5) == [1]
    index.remove(1)
    assert index.top("apple", 5) == []
    assert index.top("tree", 5) == [2]
    assert len(index) == 1


def test_query_span_takes_twelve_middle_words() -> None:
    chunk = " ".join(f"w{i}" for i in range(30))
    assert query_span(chunk) == " ".join(f"w{i}" for i in range(9, 21))


def test_bad_input_says_what_to_do(tmp_path: Path, text_file: Path) -> None:
    with pytest.raises(InvalidInput, match="--data"):
        run(tmp_path / "missing.txt")
    with pytest.raises(InvalidInput, match="collector"):
        run(text_file, collectors=["lru"])
    with pytest.raises(InvalidInput, match="baseline"):
        run(text_file, baselines=["fifo"])


@pytest.mark.skipif(
    not (DATA / "text8" / "text8_prefix.txt").is_file(),
    reason=f"the shared evaluation data is absent ({DATA / 'text8'})",
)
def test_text8_run() -> None:
    doc = run(DATA / "text8" / "text8_prefix.txt", limit=300, capacities=[100])
    assert doc["dataset"] == "text8_prefix.txt"
    assert {(r["method"], r["collector"]) for r in doc["rows"]} == {
        ("sliding", None),
        ("reservoir", None),
        ("memoryspace", "ttl_mark"),
        ("memoryspace", "ttl_mark_gen"),
    }
    for row in doc["rows"]:
        assert row["queries"] == 29
        assert row["hit@5"] >= 0.9
