"""``memoryspace forget`` as a user runs it: a preview, a question, and a refusal when nobody can
answer; a real process on a real database file, with a real terminal (pty) where one is needed."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from memoryspace import MemorySpace

ANA = [
    "Ana's passport number is in the blue folder",
    "Ana is allergic to penicillin",
    "Ana prefers window seats on long flights",
]


def run(
    db: Path, *args: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMORYSPACE_DB": str(db), "MEMORYSPACE_EMBEDDER": "hashing"}
    return subprocess.run(
        [sys.executable, "-m", "memoryspace", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ana.db"
    with MemorySpace.open(path, embedder="hashing") as ms:
        ms.add_many([{"content": text, "user": "ana"} for text in ANA])
    return path


def contents(db: Path) -> list[str]:
    with MemorySpace.open(db, embedder="hashing") as ms:
        return sorted(m.content for m in ms.scan(user="ana"))


def test_without_a_terminal_or_yes_it_refuses_and_deletes_nothing(db: Path) -> None:
    result = run(db, "forget", "--query", "Ana's passport number", "--user", "ana")
    assert result.returncode == 1
    assert "--yes" in result.stderr and "not a terminal" in result.stderr
    assert "Traceback" not in result.stderr
    assert contents(db) == sorted(ANA)


def test_dry_run_lists_what_would_go(db: Path) -> None:
    shown = run(db, "forget", "--query", "Ana's passport number", "--user", "ana", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    assert "passport" in shown.stdout and "dry run" in shown.stdout
    as_json = run(
        db, "forget", "--query", "passport number", "--user", "ana", "--dry-run", "--json"
    )
    doc = json.loads(as_json.stdout)
    assert doc["deleted"] == [] and len(doc["would_delete"]) == 1
    assert contents(db) == sorted(ANA)


def test_yes_deletes_only_what_matches_well_enough(db: Path) -> None:
    unrelated = run(
        db, "forget", "--query", "quantum chromodynamics lecture notes", "--user", "ana", "--yes"
    )
    assert unrelated.returncode == 0, unrelated.stderr
    assert "forgot 0" in unrelated.stdout
    assert contents(db) == sorted(ANA)
    done = run(db, "forget", "--query", "Ana's passport number", "--user", "ana", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["deleted"]) == 1
    assert contents(db) == sorted(ANA[1:])


@pytest.mark.parametrize(("answer", "left"), [(b"n\n", len(ANA)), (b"y\n", len(ANA) - 1)])
def test_on_a_terminal_it_shows_the_plan_and_asks(db: Path, answer: bytes, left: int) -> None:
    leader, follower = pty.openpty()
    env = {**os.environ, "MEMORYSPACE_DB": str(db), "MEMORYSPACE_EMBEDDER": "hashing"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "memoryspace",
            "forget",
            "--query=Ana's passport number",
            "--user=ana",
        ],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    try:
        os.write(leader, answer)  # the terminal buffers it until the prompt reads
        out, err = process.communicate(timeout=120)
    finally:
        os.close(leader)
    text = out.decode()
    assert "passport" in text and "Forget these 1 memories?" in text
    assert process.returncode == (0 if left < len(ANA) else 1), err.decode()
    assert len(contents(db)) == left
