"""``memoryspace conversation``: a conversation resumed from the database by each command."""

from __future__ import annotations

from pathlib import Path

import pytest

from memoryspace import MemorySpace
from test_cli import cli, cli_json

TALK = [
    ("I adopted a greyhound named Biscuit.", "Lovely name!"),
    ("I work as a nurse on night shifts.", "That sounds tiring."),
    ("Biscuit loves the beach at dawn.", "Dogs and beaches go together."),
    ("My sister Ola lives in Bergen.", "Bergen is rainy."),
    ("I am learning the cello.", "How are the lessons going?"),
    ("The cello teacher says my bowing improved.", "Well done."),
    ("I like hiking in the mountains.", "Which ones?"),
    ("We hiked Ulriken last weekend.", "Great view from there."),
    ("I prefer tea over coffee.", "Noted."),
    ("Biscuit chewed my cello case yesterday.", "Oh no!"),
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "talk.db"
    with MemorySpace.open(path, embedder="hashing") as ms:
        talk = ms.conversation(user="maren")
        for n, (said, answered) in enumerate(TALK):
            talk.add_turn(said, answered, timestamp=1_700_000_000.0 + 600 * n)
    return path


def test_each_command_resumes_the_conversation_from_the_database(db: Path) -> None:
    added = cli_json(
        db,
        "conversation",
        "add-turn",
        "Biscuit is afraid of thunder.",
        "Poor dog.",
        "--user",
        "maren",
    )
    assert added["stm"] >= 1 and added["segments"] >= 1  # older pages moved into segments

    found = cli_json(db, "conversation", "retrieve", "what does Biscuit chew", "--user", "maren")
    contents = [page["content"] for page in found["pages"]]
    assert any("chewed my cello case" in text for text in contents)
    assert any("afraid of thunder" in text for text in contents)  # the page just added

    assembled = cli_json(
        db, "conversation", "prompt", "cello lessons", "--user", "maren", "--budget", "120"
    )
    assert 0 < assembled["tokens"] <= 120

    before = cli_json(db, "conversation", "persona", "--user", "maren")
    assert before["preferences"] == before["attributes"] == []  # no segment is hot yet
    assert cli_json(db, "conversation", "consolidate", "--user", "maren")["facts"] > 0
    persona = cli_json(db, "conversation", "persona", "--user", "maren")
    assert persona["subject"] == "maren"
    learned = " ".join(
        item["object"] for key in ("preferences", "attributes") for item in persona[key]
    )
    assert "tea" in learned and "nurse" in learned


def test_a_missing_user_is_one_clear_error(db: Path) -> None:
    result = cli(db, "conversation", "retrieve", "anything", check=False)
    assert result.returncode == 1
    assert "--user" in result.stderr and "Traceback" not in result.stderr
