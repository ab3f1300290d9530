"""``memoryspace purge`` as a user runs it: a real process on a real database file, a preview, a
question on a real terminal (pty), a refusal when nobody can answer, JSON for scripts."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from memoryspace import MemorySpace, Op

ANA = ["Ana's passport number is in the blue folder", "Ana is allergic to penicillin"]


def _env(db: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MEMORYSPACE_DB": str(db),
        "MEMORYSPACE_EMBEDDER": "hashing",
        "MEMORYSPACE_CACHE": str(db.parent / "cache"),
    }


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memoryspace", "purge", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(db),
        timeout=120,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ana.db"
    with MemorySpace.open(path, embedder="hashing") as ms:
        ms.add_many([{"content": text, "user": "ana"} for text in ANA])
        ms.add("Bob likes trains", user="bob")
        ms.delete(ms.add("Ana's old phone is 555 0100", user="ana").id)
    return path


def users(db: Path) -> list[str | None]:
    with MemorySpace.open(db, embedder="hashing") as ms:
        return sorted(str(m.user) for m in ms.scan())


def test_it_needs_an_id_or_a_scope(db: Path) -> None:
    result = run(db, "--json", "--yes")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "InvalidInput" and "--user" in error["message"]
    assert users(db) == ["ana", "ana", "bob"]


def test_without_a_terminal_or_yes_it_refuses_and_erases_nothing(db: Path) -> None:
    result = run(db, "--user", "ana")
    assert result.returncode == 1
    assert "--yes" in result.stderr and "not a terminal" in result.stderr
    assert "Traceback" not in result.stderr
    assert users(db) == ["ana", "ana", "bob"]


def test_dry_run_lists_live_and_deleted_memories(db: Path) -> None:
    shown = run(db, "--user", "ana", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert "passport" in shown.stdout and "555 0100" in shown.stdout
    assert "deleted" in shown.stdout and "would erase 3 memories" in shown.stdout
    as_json = json.loads(run(db, "--user", "ana", "--dry-run", "--json").stdout)
    assert len(as_json["would_erase"]) == 3
    assert users(db) == ["ana", "ana", "bob"]


def test_yes_erases_and_reports_as_json(db: Path) -> None:
    done = run(db, "--user", "ana", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["ids"]) == 3 and report["records"] == 2 and report["wal_truncated"]
    assert users(db) == ["bob"]
    with MemorySpace.open(db, embedder="hashing") as ms:
        for id in report["ids"]:
            history = ms.history(id)
            assert history[-1].op is Op.PURGE and history[-1].actor == "cli:purge"
    assert b"passport" not in db.read_bytes()
    by_id = run(db, "--id", report["ids"][0], "--yes")
    assert by_id.returncode == 0 and "erased 0 memories" in by_id.stdout  # erased already


@pytest.mark.parametrize(("answer", "left"), [(b"n\n", 3), (b"y\n", 1)])
def test_on_a_terminal_it_shows_the_plan_and_asks(db: Path, answer: bytes, left: int) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "memoryspace", "purge", "--user=ana"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(db),
    )
    os.close(follower)
    try:
        os.write(leader, answer)  # the terminal buffers it until the prompt reads
        out, err = process.communicate(timeout=120)
    finally:
        os.close(leader)
    text = out.decode()
    assert "passport" in text and "Erase these 3 memories everywhere?" in text
    assert process.returncode == (0 if left == 1 else 1), err.decode()
    assert len(users(db)) == left
