"""The capacity benchmark on a tiny synthetic text, and once on text8 when the data is there."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memoryspace.bench.capacity import (
    BM25Index,
    query_plan,
    query_span,
    read_chunks,
    run,
    run_baseline,
    run_memoryspace,
    unique_spans,
    working_set,
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


def _text(words: int = 8000) -> str:
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(3, 8))) for _ in range(1500)]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "stream.txt"
    path.write_text(_text(), encoding="utf-8")
    return path


@pytest.fixture
def chunks(text_file: Path) -> list[str]:
    return read_chunks(text_file, 128, 400)


def test_json_document_has_exactly_the_documented_shape(text_file: Path) -> None:
    args = ["bench", "capacity", "--data", str(text_file), "--chunk-size", "256"]
    args += ["--limit", "80", "--capacities", "20,40", "--query-interval", "5", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    doc = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert list(doc) == ["dataset", "rows"]
    assert doc["dataset"] == "stream.txt"
    assert len(doc["rows"]) == 2 * 5  # capacities × (3 baselines + 2 collectors)
    for row in doc["rows"]:
        assert list(row) == ROW_KEYS
        assert row["method"] in ("memoryspace", "sliding", "reservoir", "lru")
        assert (row["collector"] is None) == (row["method"] != "memoryspace")
        assert row["queries"] == 80 // 5 - 1
        assert 0 <= row["hit@1"] <= row["hit@5"] <= 1
        # Baselines are one tier; memoryspace pages search hits into its hot tier.
        assert (row["page_faults"] > 0) == (row["method"] == "memoryspace")


def test_csv_and_png_are_written(text_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["bench", "capacity", "--data", str(text_file), "--chunk-size", "256"]
    args += ["--limit", "30", "--capacities", "10", "--query-interval", "5"]
    result = runner.invoke(app, [*args, "--collectors", "ttl_mark", "--out", str(out)])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert (out / "capacity.csv").read_text().startswith("method,collector,capacity")
    assert (out / "capacity.png").stat().st_size > 0
    assert "sliding" in result.stdout


@pytest.mark.parametrize(("capacity", "interval", "reuse"), [(80, 10, 0.5), (20, 1, 0.9)])
def test_every_query_asks_for_a_working_set_chunk_and_it_fits(
    capacity: int, interval: int, reuse: float
) -> None:
    plan = query_plan(400, capacity, interval, seed=2, reuse=reuse)
    assert plan == query_plan(400, capacity, interval, seed=2, reuse=reuse)
    assert len(plan) == 400 // interval - 1  # all but the first batch
    for end, target in plan.items():
        assert target <= end - interval  # never the batch just streamed
        held = working_set(plan, end, capacity)
        assert target in held
        assert len(held) <= capacity
    asked_twice = len(plan) - len(set(plan.values()))
    assert asked_twice > 0
    assert any(end - target > capacity for end, target in plan.items())  # beyond a window


def test_without_reuse_every_query_is_a_recent_chunk() -> None:
    plan = query_plan(400, 80, 10, seed=1, reuse=0.0)
    assert all(end - 40 < target for end, target in plan.items())


def test_a_span_found_twice_is_never_asked(chunks: list[str]) -> None:
    chunks = [*chunks[:100]]
    chunks[60] = chunks[30]  # the same text twice: its span has two right answers
    askable = unique_spans(chunks)
    assert not askable[30] and not askable[60]
    assert sum(askable) == len(chunks) - 2
    plan = query_plan(len(chunks), 40, 2, seed=1, askable=askable)
    assert 30 not in plan.values() and 60 not in plan.values()
    only_30 = [i == 30 for i in range(len(chunks))]
    assert set(query_plan(len(chunks), 40, 2, seed=1, askable=only_30).values()) == {30}


def test_every_method_gets_the_same_queries(chunks: list[str]) -> None:
    plan = query_plan(len(chunks), 80, 10, seed=1)
    asked = [
        run_baseline(chunks, "sliding", capacity=80).asked,
        run_baseline(chunks, "reservoir", capacity=80).asked,
        run_memoryspace(chunks, "ttl_mark", capacity=80).asked,
        run_memoryspace(chunks, "ttl_mark_gen", capacity=80).asked,
    ]
    assert all(queries == list(plan.values()) for queries in asked)


def test_sliding_loses_an_old_re_reference_that_memoryspace_keeps(chunks: list[str]) -> None:
    # Chunk 5 is asked at second 19, then re-asked every 30 s (< tau = 40 s): it stays in the
    # working set, while any window of 80 chunks lost it long ago, and it outlives the idle
    # time to live (4 × 80 s) counted from creation.
    plan = {end: 5 for end in range(19, len(chunks), 30)}
    old = [i for i, end in enumerate(plan) if end - 5 >= 80]
    assert old and max(plan) - 5 > 4 * 80
    sliding = run_baseline(chunks, "sliding", capacity=80, plan=plan)
    assert [sliding.ranks[i] for i in old] == [0] * len(old)
    for collector in ("ttl_mark", "ttl_mark_gen"):
        kept = run_memoryspace(chunks, collector, capacity=80, plan=plan)
        assert kept.ranks == [1] * len(plan)


def test_memoryspace_keeps_the_working_set_that_the_baselines_lose(chunks: list[str]) -> None:
    rows = {
        name: outcome.row
        for name, outcome in [
            ("sliding", run_baseline(chunks, "sliding", capacity=80)),
            ("reservoir", run_baseline(chunks, "reservoir", capacity=80)),
            ("ttl_mark", run_memoryspace(chunks, "ttl_mark", capacity=80)),
            ("ttl_mark_gen", run_memoryspace(chunks, "ttl_mark_gen", capacity=80)),
        ]
    }
    for collector in ("ttl_mark", "ttl_mark_gen"):
        assert rows[collector]["hit@5"] == 1.0
        assert rows[collector]["hit@1"] > rows["sliding"]["hit@1"]
        assert rows[collector]["hit@1"] > rows["reservoir"]["hit@1"]


def test_sliding_window_holding_everything_always_hits(chunks: list[str]) -> None:
    outcome = run_baseline(chunks, "sliding", capacity=len(chunks))
    assert outcome.row["queries"] == len(query_plan(len(chunks), len(chunks))) > 0
    assert outcome.row["hit@1"] == 1.0
    assert outcome.max_live == len(chunks)


def test_lru_keeps_what_queries_use_and_stays_bounded(chunks: list[str]) -> None:
    plan = query_plan(len(chunks), 30, 5, seed=3)
    lru = run_baseline(chunks, "lru", capacity=30, query_interval=5, plan=plan)
    sliding = run_baseline(chunks, "sliding", capacity=30, query_interval=5, plan=plan)
    assert lru.max_live == 30
    assert lru.row["hit@5"] >= sliding.row["hit@5"]  # a used chunk outlives the window
    assert lru.row == run_baseline(chunks, "lru", capacity=30, query_interval=5, plan=plan).row


def test_reservoir_is_deterministic_per_seed_and_bounded(chunks: list[str]) -> None:
    first = run_baseline(chunks, "reservoir", capacity=30, query_interval=5, seed=3)
    again = run_baseline(chunks, "reservoir", capacity=30, query_interval=5, seed=3)
    assert first.row == again.row
    assert first.max_live == 30


@pytest.mark.parametrize("collector", ["ttl_mark", "ttl_mark_gen"])
def test_memoryspace_never_holds_more_than_its_capacity(chunks: list[str], collector: str) -> None:
    outcome = run_memoryspace(chunks, collector, capacity=40, query_interval=5)
    assert outcome.max_live == 40
    assert outcome.row["queries"] == len(chunks) // 5 - 1
    assert outcome.row["gc_pause_ms_p99"] > 0


def test_a_smaller_hot_tier_pages_more(chunks: list[str]) -> None:
    small = run_memoryspace(chunks, "ttl_mark", capacity=80, hot_fraction=1 / 80)
    whole = run_memoryspace(chunks, "ttl_mark", capacity=80, hot_fraction=1.0)
    assert small.row["page_faults"] > whole.row["page_faults"] > 0
    assert small.ranks == whole.ranks  # the tier changes where records are read, not answers


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
    with pytest.raises(InvalidInput, match="twice the query interval"):
        run(text_file, capacities=[15], query_interval=10)
    with pytest.raises(InvalidInput, match="--reuse"):
        run(text_file, reuse=1.5)
    with pytest.raises(InvalidInput, match="--hot-fraction"):
        run(text_file, hot_fraction=0)


@pytest.mark.skipif(
    not (DATA / "text8" / "text8_prefix.txt").is_file(),
    reason=f"the shared evaluation data is absent ({DATA / 'text8'})",
)
def test_text8_run() -> None:
    doc = run(DATA / "text8" / "text8_prefix.txt", limit=300, capacities=[100])
    assert doc["dataset"] == "text8_prefix.txt"
    rows = {(r["method"], r["collector"]): r for r in doc["rows"]}
    assert set(rows) == {
        ("sliding", None),
        ("reservoir", None),
        ("lru", None),
        ("memoryspace", "ttl_mark"),
        ("memoryspace", "ttl_mark_gen"),
    }
    for (method, _), row in rows.items():
        assert row["queries"] == 29
        if method == "memoryspace":
            assert row["hit@5"] >= 0.9
            assert row["hit@5"] >= rows[("sliding", None)]["hit@5"]
            assert row["hit@5"] > rows[("reservoir", None)]["hit@5"]
