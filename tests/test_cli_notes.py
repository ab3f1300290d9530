"""``memoryspace notes ...`` and ``memoryspace reflect``, run as real processes."""

from __future__ import annotations

from pathlib import Path

from memoryspace import MemorySpace
from test_cli import cli, cli_json


def test_notes_add_link_show_unlink(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    trip = cli_json(db, "notes", "add", "A trip to Japan in April with Anna", "--user", "maren")
    hotel = cli_json(
        db, "notes", "add", "Anna booked a Kyoto hotel for the Japan trip", "--user", "maren"
    )
    trip_id, hotel_id = trip["note"]["id"], hotel["note"]["id"]
    assert [link["id"] for link in hotel["links"]] == [trip_id]
    assert hotel["note"]["meta"]["keywords"] and hotel["note"]["meta"]["context"]
    bread = cli_json(db, "notes", "add", "Bread needs flour", "--tag", "food", "--user", "ola")
    bread_id = bread["note"]["id"]
    assert "food" in bread["note"]["tags"] and bread["links"] == []

    linked = cli_json(db, "notes", "link", bread_id, trip_id, "--type", "supports")
    assert linked["links"] == [
        {"id": trip_id, "type": "supports", "strong": True, "content": trip["note"]["content"]}
    ]
    shown = cli_json(db, "notes", "show", trip_id)
    assert [link["id"] for link in shown["links"]] == [hotel_id]  # evolved: linked back
    assert [c["actor"] for c in shown["history"]] == [None, "notes"]
    unlinked = cli_json(db, "notes", "unlink", bread_id, trip_id)
    assert unlinked["links"] == []

    hits = cli_json(db, "notes", "search", "Kyoto hotel", "--user", "maren", "--expand", "1")
    assert hits[0]["memory"]["id"] == hotel_id
    assert {h["parts"]["via"] for h in hits[1:]} <= {hotel_id, None}

    failed = cli(db, "notes", "unlink", bread_id, trip_id, check=False)
    assert failed.returncode == 1 and "no link" in failed.stderr


def test_reflect_dry_run_then_apply(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with MemorySpace.open(db, embedder="hashing") as ms:
        april = ms.add("My Japan trip is in April.", user="maren", kind="fact", timestamp=1e9)
        ms.add("The trip moved to October.", user="maren", kind="fact", timestamp=1e9 + 60)
        lsn = ms.lsn
    planned = cli_json(db, "reflect", "--dry-run")
    assert planned["dry_run"] and planned["counts"] == {"supersede": 1}
    assert "'october' (was 'april')" in planned["plan"][0]["reason"]
    text = cli(db, "reflect", "--dry-run").stdout
    assert "supersede" in text and "dry run: nothing changed" in text
    with MemorySpace.open(db, embedder="hashing") as ms:
        assert ms.lsn == lsn and ms.get(april.id).valid_to is None
    applied = cli(db, "reflect", "--user", "maren").stdout
    assert "applied 1 groups" in applied and f"--to-lsn {lsn}" in applied
    with MemorySpace.open(db, embedder="hashing") as ms:
        assert ms.get(april.id).valid_to == 1e9 + 60
