"""Export and import: an export re-imports cleanly, and importing twice changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memoryspace import Conflict, HashingEmbedder, InvalidInput, MemorySpace
from memoryspace.transfer import read_records


def open_space(path: Path) -> MemorySpace:
    return MemorySpace.open(path, embedder=HashingEmbedder())


def fill(ms: MemorySpace) -> None:
    ms.add("Tobi is allergic to hazelnuts", user="tobi", kind="fact", tags=["health"])
    ms.add("Maren: I adopted a greyhound", user="maren", session="s1", meta={"turn": 1})
    ms.add("Maren: Thanks!", user="maren", session="s1", importance=0.2)
    ms.add("Maren: Thanks!", user="maren", session="s1")  # a second turn, not a copy
    ms.add("buy oat milk", user="maren", kind="note", pinned=True, valid_to=2_000_000_000.0)


def test_an_export_reimports_into_its_own_database_without_a_change(tmp_path: Path) -> None:
    with open_space(tmp_path / "a.db") as ms:
        fill(ms)
        records = list(ms.export_records())
        lsn, count = ms.lsn, ms.count()
        result = ms.import_records(records)
        assert (result.imported, result.added, result.skipped) == (5, 0, 5)
        assert (ms.lsn, ms.count()) == (lsn, count)


def test_an_export_reimports_into_a_fresh_database_as_the_same_memories(tmp_path: Path) -> None:
    with open_space(tmp_path / "a.db") as ms:
        fill(ms)
        records = list(ms.export_records())
    with open_space(tmp_path / "b.db") as copy:
        result = copy.import_records(json.loads(json.dumps(records)))  # through JSON
        assert (result.added, result.memories) == (5, 5)
        assert list(copy.export_records()) == records
        again = copy.import_records(records)
        assert (again.added, again.skipped, again.memories) == (0, 5, 5)


def test_records_without_ids_fold_into_the_facts_they_repeat(tmp_path: Path) -> None:
    records = [
        {"content": "Tobi is allergic to hazelnuts", "user": "tobi", "kind": "fact"},
        {"content": "tobi is allergic to  hazelnuts", "user": "tobi", "kind": "fact"},
        {"content": "Maren likes tea", "user": "maren", "kind": "fact"},
    ]
    with open_space(tmp_path / "a.db") as ms:
        first = ms.import_records(records)
        assert (first.added, first.deduplicated, first.memories) == (2, 1, 2)
        second = ms.import_records(records)
        assert (second.added, second.deduplicated, second.memories) == (0, 3, 2)


def test_replace_updates_only_what_changed(tmp_path: Path) -> None:
    with open_space(tmp_path / "a.db") as ms:
        fill(ms)
        records = list(ms.export_records())
        records[0] = {**records[0], "content": "Tobi is allergic to peanuts", "tags": ["food"]}
        lsn = ms.lsn
        result = ms.import_records(records, on_conflict="replace")
        assert (result.replaced, result.skipped) == (1, 4)
        assert ms.lsn == lsn + 1
        changed = ms.get(records[0]["id"])
        assert (changed.content, changed.tags) == ("Tobi is allergic to peanuts", ("food",))


def test_error_refuses_taken_ids_and_says_what_to_do(tmp_path: Path) -> None:
    with open_space(tmp_path / "a.db") as ms:
        fill(ms)
        records = list(ms.export_records())
        with pytest.raises(Conflict, match="skip them or replace"):
            ms.import_records(records, on_conflict="error")
        with pytest.raises(InvalidInput, match="skip, replace, error"):
            ms.import_records(records, on_conflict="merge")  # type: ignore[arg-type]


def test_a_repeated_id_inside_one_file_is_a_clash(tmp_path: Path) -> None:
    records = [
        {"id": "m1", "content": "first", "kind": "fact"},
        {"id": "m1", "content": "second", "kind": "fact"},
    ]
    with open_space(tmp_path / "a.db") as ms:
        result = ms.import_records(records, batch=1)
        assert (result.added, result.skipped) == (1, 1)
        result = ms.import_records(records)
        assert (result.added, result.skipped) == (0, 2)
        assert ms.get("m1").content == "first"


def test_locomo_turns_get_ids_so_a_second_import_skips_them(tmp_path: Path) -> None:
    sample = {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "Thanks!"},
                {"speaker": "Ann", "dia_id": "D1:2", "text": "Thanks!"},
            ],
        },
        "qa": [],
    }
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([sample]))
    records = read_records(path)
    assert [r["id"] for r in records] == ["conv-x/D1:1", "conv-x/D1:2"]
    with open_space(tmp_path / "a.db") as ms:
        assert ms.import_records(records).added == 2
        assert ms.import_records(read_records(path)).skipped == 2
        assert ms.count() == 2
