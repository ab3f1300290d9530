"""`memoryspace gc` and `memoryspace stats` as a user runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

from memoryspace import MemorySpace
from memoryspace.profiler import MemoryProfiler
from test_cli import cli, cli_json


def test_gc_dry_run_then_collect_then_stats(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    old = time.time() - 10 * 86_400
    with MemorySpace.open(db, embedder="hashing", clock=lambda: old) as ms:  # ten days ago
        for text in ("We walked by the river.", "The harbor was calm."):
            ms.add(text, user="u", session="old", importance=0.1)
        ms.add("temporary", kind="working", ttl=60)
    with MemorySpace.open(db, embedder="hashing") as ms:
        ms.add("Today we plan a trip.", user="u", session="new", importance=0.1)
    assert cli_json(db, "gc", "--collector", "ttl")["action_counts"] == {"delete": 1}
    dry = cli_json(db, "gc", "--collector", "mark_sweep", "--dry-run")
    assert dry["dry_run"] and dry["collected"] == 2 and dry["lsn_before"] == dry["lsn_after"]
    event = cli_json(db, "gc", "--collector", "mark_sweep")
    assert event["action_counts"] == {"compact": 2} and event["compacted"] == 1
    assert "generational" in cli(db, "gc", "--major").stdout
    profile = tmp_path / "p.jsonl"
    with MemoryProfiler(profile) as profiler:
        profiler.record("retrieval", 0.5)
    stats = cli_json(db, "stats", "--profile", str(profile))
    assert stats["gc"]["events"] == 3 and stats["gc"]["collected"] == 3
    assert stats["archived"] == 2
    assert stats["profile"]["retrieval"]["count"] == 1
    failed = cli(db, "gc", "--collector", "nope", check=False)
    assert failed.returncode == 1 and "unknown collector" in failed.stderr
    assert json.loads(cli(db, "stats", "--json").stdout)["memories"] == 4  # archived count too


def test_gc_idle_days_forgets_what_was_not_used(tmp_path: Path) -> None:
    db = tmp_path / "idle.db"
    month_ago = time.time() - 31 * 86_400
    with MemorySpace.open(db, embedder="hashing", clock=lambda: month_ago) as ms:
        ms.add("an old parking spot number")
    with MemorySpace.open(db, embedder="hashing") as ms:
        ms.add("the spare key is under the blue pot")
    wrong = cli(db, "gc", "--collector", "mark_sweep", "--idle-days", "30", check=False)
    assert wrong.returncode == 1 and "--collector ttl" in wrong.stderr
    event = cli_json(db, "gc", "--collector", "ttl", "--idle-days", "30")
    assert event["collected"] == 1 and event["action_counts"] == {"archive": 1}  # by its kind
    assert cli_json(db, "stats")["archived"] == 1
