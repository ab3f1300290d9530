"""The command line, run as a user would: a real process on a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def cli(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMORYSPACE_DB": str(db), "MEMORYSPACE_EMBEDDER": "hashing"}
    result = subprocess.run(
        [sys.executable, "-m", "memoryspace", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def cli_json(db: Path, *args: str) -> Any:
    return json.loads(cli(db, *args, "--json").stdout)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def test_add_search_get_history(db: Path) -> None:
    added = cli_json(db, "add", "Tobi is learning the cello", "--user", "tobi", "--tag", "music")
    cli_json(db, "add", "Maren adopted a greyhound", "--user", "maren")
    hits = cli_json(db, "search", "cello lessons", "-k", "1")
    assert [h["memory"]["id"] for h in hits] == [added["id"]]
    assert hits[0]["parts"]["sparse_rank"] == 1
    scoped = cli_json(db, "search", "cello", "--user", "maren", "-k", "5", "--min-score", "0")
    assert [hit["memory"]["user"] for hit in scoped] == ["maren"]
    assert cli_json(db, "search", "cello", "--user", "maren") == []  # nothing relevant there
    assert cli_json(db, "get", added["id"])["tags"] == ["music"]
    cli(db, "pin", added["id"])
    history = cli_json(db, "history", added["id"])
    assert [c["op"] for c in history] == ["add", "update"]
    assert history[1]["after"]["pinned"] is True


def test_checkpoint_forget_restore(db: Path) -> None:
    first = cli_json(db, "add", "the spare key is under the blue pot")
    cli_json(db, "checkpoint", "safe")
    assert [c["name"] for c in cli_json(db, "checkpoint")] == ["safe"]
    assert cli_json(db, "forget", first["id"])["deleted"] == [first["id"]]
    assert cli_json(db, "stats")["memories"] == 0
    assert cli_json(db, "restore", "safe")["changes"] == 1
    assert cli_json(db, "get", first["id"])["content"] == "the spare key is under the blue pot"
    feed = cli_json(db, "changes", "--since", "1")
    assert [c["op"] for c in feed] == ["delete", "add"]


def test_export_then_import_round_trips(db: Path, tmp_path: Path) -> None:
    for text in ("alpha memory", "beta memory", "gamma memory"):
        cli(db, "add", text, "--user", "u1", "--kind", "fact")
    dump = tmp_path / "dump.jsonl"
    cli(db, "export", "--out", str(dump))
    copy = tmp_path / "copy.db"
    result = cli_json(copy, "import", str(dump))
    assert (result["imported"], result["added"], result["memories"]) == (3, 3, 3)
    for target in (copy, db):  # again into the copy, and into the database it came from
        again = cli_json(target, "import", str(dump))
        assert (again["added"], again["skipped"], again["memories"]) == (0, 3, 3)
    originals = {m["content"]: m for m in map(json.loads, dump.read_text().splitlines())}
    cli(copy, "export", "--out", str(tmp_path / "again.jsonl"))
    again = {
        m["content"]: m
        for m in map(json.loads, (tmp_path / "again.jsonl").read_text().splitlines())
    }
    assert again == originals


def test_import_locomo_shaped_conversations(db: Path, tmp_path: Path) -> None:
    sample = {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "I bought a kayak."},
                {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice!", "blip_caption": "a red boat"},
            ],
        },
        "qa": [
            {
                "question": "What did Ann buy?",
                "answer": "a kayak",
                "evidence": ["D1:1"],
                "category": 4,
            }
        ],
        "observation": {"must": "not be ingested"},
    }
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([sample]))
    assert cli_json(db, "import", str(path))["imported"] == 2
    hits = cli_json(db, "search", "red boat", "--user", "conv-x", "-k", "1")
    assert hits[0]["memory"]["content"] == "Bo: Nice! [shares an image: a red boat]"
    assert hits[0]["memory"]["meta"]["dia_id"] == "D1:2"


def test_errors_are_one_clean_line_and_exit_1(db: Path) -> None:
    cli(db, "add", "something to make the database exist")
    missing = cli(db, "get", "nope", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: NotFound: no memory with id 'nope'; "
        "find ids with `memoryspace search` or `memoryspace list`"
    ]
    empty = cli(db, "add", "   ", check=False)
    assert empty.returncode == 1 and "InvalidInput" in empty.stderr
    assert "Traceback" not in empty.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["search", "cello"],
        ["get", "some-id"],
        ["history", "some-id"],
        ["changes"],
        ["stats"],
        ["export"],
        ["context", "cello"],
        ["checkpoint"],
        ["forget", "--user", "ana"],
        ["gc"],
    ],
)
def test_read_commands_on_a_missing_database_create_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "typo.db"
    result = cli(db, *command, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: NotFound: no database at {db}; check the path (or --db), or add a memory to "
        "create one"
    ]
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_are_one_line_naming_the_path(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("just some notes, not a database\n" * 100)
    for db, expected in [
        (tmp_path, f"error: InvalidInput: {tmp_path} is a folder"),
        (tmp_path / "missing" / "m.db", f"error: InvalidInput: the folder {tmp_path / 'missing'}"),
        (not_a_database, f"error: InvalidInput: {not_a_database} is not a MemorySpace database"),
    ]:
        result = cli(db, "add", "hello", check=False)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert not_a_database.read_text().startswith("just some notes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_damaged_checkpoint_is_listed_and_refused(db: Path) -> None:
    cli(db, "add", "the spare key is under the blue pot")
    made = cli_json(db, "checkpoint", "safe")
    assert made["damaged"] is None
    Path(made["path"]).write_bytes(b"\0" * 8192)
    [listed] = cli_json(db, "checkpoint")
    assert listed["name"] == "safe" and "not an SQLite file" in listed["damaged"]
    refused = cli(db, "restore", "safe", check=False)
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: BackendUnavailable: checkpoint 'safe'") and "damaged" in line


def test_usage_errors_exit_2(db: Path) -> None:
    result = cli(db, "search", check=False)
    assert result.returncode == 2


def test_context_prints_a_prompt_within_the_budget(db: Path) -> None:
    for text in ("Tobi is learning the cello", "Tobi's teacher is Ilse", "Maren has a greyhound"):
        cli(db, "add", text, "--user", "tobi")
    assembled = cli_json(db, "context", "cello teacher", "--budget", "30", "--user", "tobi")
    assert assembled["tokens"] <= 30
    sources = [s for block in assembled["blocks"] for s in block["source_ids"]]
    assert sources and len(sources) == len(set(sources))
