"""``memoryspace read`` and the reader benchmarks, run as a user would."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from memoryspace.bench import read_hotpot, read_scaling
from memoryspace.cli.app import app
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.datasets.hotpot import HotpotQuestion, Paragraph

# ../shared/data beside the project (a worktree under wt/ looks one level further up)
SHARED = next(
    (
        up / "shared" / "data"
        for up in Path(__file__).parents[1].parents[:2]
        if (up / "shared").is_dir()
    ),
    Path(__file__).parents[1].parent / "shared" / "data",
)
HOTPOT = SHARED / "hotpotqa" / "hotpot_dev_distractor_sample100.json"
runner = CliRunner()
STORY = (
    "The Lantern Suite was composed by Ilse Marrow in 1931. "
    + " ".join(f"Harbour {n} was dredged in the spring of year {n}." for n in range(40))
    + " Ilse Marrow was born in Tallinn and studied in Vienna.\n"
)


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMORYSPACE_DB": str(db), "MEMORYSPACE_EMBEDDER": "hashing"}
    env.pop("MEMORYSPACE_LLM_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "memoryspace", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_read_prints_the_memory_and_stores_it_when_asked(tmp_path: Path) -> None:
    story, db = tmp_path / "story.txt", tmp_path / "cli.db"
    story.write_text(STORY * 5, encoding="utf-8")
    question = "Where was the composer of the Lantern Suite born?"
    args = ["read", str(story), "-q", question, "--chunk-tokens", "64", "--memory-tokens", "48"]
    shown = cli(*args, "--json", db=db)
    assert shown.returncode == 0, shown.stderr
    reading = json.loads(shown.stdout)
    assert "Ilse Marrow was born in Tallinn" in reading["memory"]
    assert reading["totals"]["chunks"] == len(reading["chunks"]) > 5
    assert not db.exists()  # nothing stored without --store
    stored = cli(*args, "--store", db=db)
    assert stored.returncode == 0, stored.stderr
    assert "stored" in stored.stdout and "ms per 1k tokens" in stored.stdout
    found = cli("search", "Ilse Marrow born", "--json", db=db)
    assert "Ilse Marrow was born in Tallinn" in found.stdout


def test_read_refuses_a_missing_file_and_a_bad_budget(tmp_path: Path) -> None:
    missing = cli("read", str(tmp_path / "nope.txt"), db=tmp_path / "cli.db")
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    story = tmp_path / "s.txt"
    story.write_text("One. Two.", encoding="utf-8")
    bad = cli("read", str(story), "--memory-tokens", "3", db=tmp_path / "cli.db")
    assert bad.returncode == 1 and "memory_tokens must be an int of at least" in bad.stderr


def _question() -> HotpotQuestion:
    return HotpotQuestion(
        id="q1",
        question="Where was the composer of the Lantern Suite born?",
        answer="Tallinn",
        supporting_facts=(("Lantern Suite", 0), ("Ilse Marrow", 1)),
        paragraphs=(
            Paragraph("Lantern Suite", ("The Lantern Suite is a suite by Ilse Marrow.",)),
            Paragraph("Ilse Marrow", ("Ilse Marrow was a composer.", " She was born in Tallinn.")),
        ),
    )


def test_inputs_reach_their_length_and_scores_follow_the_memory() -> None:
    question = _question()
    count = default_token_counter()
    pool = [Paragraph(f"Other {n}", (f"Harbour {n} was dredged in year {n}.",)) for n in range(50)]
    pool.append(Paragraph("Ilse Marrow", ("A duplicate title is left out.",)))
    texts = read_hotpot.build_input(
        question, pool, ["Filler text about rivers."] * 3, 300, count, 1
    )
    assert sum(count(t) for t in texts) >= 300
    assert "She was born in Tallinn." in " ".join(texts)
    assert "A duplicate title is left out." not in texts
    splitter = read_hotpot.Splitter(count)
    memory = "The Lantern Suite is a suite by Ilse Marrow.\nShe was born in Tallinn."
    assert read_hotpot.score(memory, question, splitter) == (1.0, True, True)
    assert read_hotpot.score("She was born in Tallinn.", question, splitter) == (0.5, False, True)
    assert read_hotpot.score("Nothing.", question, splitter) == (0.0, False, False)


def test_the_linear_fit_recovers_slope_and_r2() -> None:
    rows = [
        {
            "tokens": n,
            "seconds": 0.5 + 2e-5 * n,
            "ms_per_1k_tokens": 1.0,
            "peak_rss_mb": 90.0,
            "cpu_seconds": 3e-5 * n,
            "cpu_ms_per_1k_tokens": 30.0 + (n == 1000),
        }
        for n in (1000, 10_000, 100_000)
    ]
    fitted = read_scaling.fit("x", rows)
    assert fitted["slope_ms_per_1k"] == pytest.approx(20.0)
    assert fitted["intercept_s"] == pytest.approx(0.5)
    assert fitted["r2"] == pytest.approx(1.0) and fitted["cpu_r2"] == pytest.approx(1.0)
    assert fitted["cpu_slope_ms_per_1k"] == pytest.approx(30.0)
    assert fitted["spread"] == 0.0 and fitted["cpu_spread"] == pytest.approx(1 / 30)


def test_read_scaling_repeats_a_short_file_and_writes_csv_and_png(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "bench",
            "read-scaling",
            "--data",
            str(story),
            "--sizes",
            "500,3000",
            "--chunk-tokens",
            "256",
            "--memory-tokens",
            "64",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    small, large = doc["rows"]
    assert small["tokens"] >= 500 and large["tokens"] >= 3000
    assert large["passes"] > 1  # the story is about 600 tokens long
    assert large["peak_rss_mb"] > 0 and large["embedder"].startswith("hashing")
    with open(out / "read_scaling.csv", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 2
    assert (out / "read_scaling.png").stat().st_size > 1000


@pytest.mark.skipif(not HOTPOT.exists(), reason=f"HotpotQA sample not found at {HOTPOT}")
def test_read_hotpot_on_real_questions(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "bench",
            "read-hotpot",
            "--data",
            str(HOTPOT),
            "--limit",
            "4",
            "--tokens",
            "4000",
            "--methods",
            "reader,truncation,bm25",
            "--memory-tokens",
            "256",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.splitlines()[-1])
    rows = {row["method"]: row for row in doc["rows"]}
    assert set(rows) == {"reader", "truncation", "bm25"}
    assert all(row["questions"] == 4 and row["tokens"] >= 4000 for row in rows.values())
    assert rows["reader"]["sf_recall"] > rows["truncation"]["sf_recall"]
    assert (out / "read_hotpot.png").exists() and (out / "read_hotpot.csv").exists()
