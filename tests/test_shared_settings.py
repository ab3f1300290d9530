"""Shared settings live in the database: defaults, then stored values, then arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memoryspace import MemorySpace, Settings
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.errors import Conflict, InvalidInput, ReadOnly
from memoryspace.settings import SHARED_SETTINGS, setting_key


def open_space(path: Path, **settings: object) -> MemorySpace:
    return MemorySpace.open(path, embedder=HashingEmbedder(), settings=Settings(**settings))  # type: ignore[arg-type]


def test_the_first_non_default_value_is_stored_and_used_by_later_opens(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with open_space(path, dense_weight=0.7, max_records=50) as ms:
        assert ms.settings.dense_weight == 0.7
        assert ms.store.get_setting(setting_key("dense_weight")) == "0.7"
        assert ms.store.get_setting(setting_key("sparse_weight")) is None  # defaults not stored
    with open_space(path) as ms:
        assert (ms.settings.dense_weight, ms.settings.max_records) == (0.7, 50)
    with open_space(path, dense_weight=0.7, candidates=40) as ms:  # agrees, and adds one
        assert (ms.settings.dense_weight, ms.settings.candidates) == (0.7, 40)


def test_a_conflicting_value_is_refused_with_the_way_to_change_it(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with open_space(path, dense_weight=0.7) as ms:
        ms.add("kept", id="k")
    with pytest.raises(Conflict, match=r"dense_weight=0.7.*configure\(dense_weight=") as caught:
        open_space(path, min_score=0.3, dense_weight=0.6)
    assert "memoryspace config set dense_weight" in str(caught.value)
    with open_space(path) as ms:  # the refused open stored nothing
        assert ms.settings.min_score == Settings().min_score
        assert ms.get("k").content == "kept"


def test_configure_changes_the_stored_value_for_everyone(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with open_space(path, dedupe="off") as ms:
        now = ms.configure(dedupe="exact", gc_trigger="growth")
        assert (now.dedupe, now.gc_trigger) == ("exact", "growth") and ms.auto_gc is not None
        first = ms.add("the same words", kind="fact")
        assert ms.add("The  same words", kind="fact").id == first.id  # deduplicated at once
    with open_space(path) as ms:
        assert (ms.settings.dedupe, ms.settings.gc_trigger) == ("exact", "growth")


def test_configure_refuses_what_is_not_shared_or_not_valid(tmp_path: Path) -> None:
    with open_space(tmp_path / "a.db") as ms:
        with pytest.raises(InvalidInput, match="cannot be stored"):
            ms.configure(hot_tier_records=10)
        with pytest.raises(InvalidInput, match="dense_weight"):
            ms.configure(dense_weight=-1)
        with pytest.raises(InvalidInput, match="unknown collector"):
            ms.configure(gc_collector="no-such-collector")
        for name in SHARED_SETTINGS:  # nothing was stored by the refused calls
            stored = ms.store.get_setting(setting_key(name))
            # vector_precision is stored at open, even at its default (what the vectors are)
            assert stored == ('"float16"' if name == "vector_precision" else None)


def test_a_read_only_view_merges_but_never_writes(tmp_path: Path) -> None:
    with open_space(tmp_path / "a.db", phrase_boost=0.2) as ms:
        ms.add("one")
        with ms.as_of(ms.lsn) as past:
            assert past.settings.phrase_boost == 0.2
            with pytest.raises(ReadOnly):
                past.configure(phrase_boost=0.4)


def test_another_process_uses_the_stored_settings(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with open_space(path, max_records=7, session_boost=0.1):
        pass
    script = textwrap.dedent(
        f"""
        import json
        from memoryspace import MemorySpace
        from memoryspace.embed.hashing import HashingEmbedder
        with MemorySpace.open({str(path)!r}, embedder=HashingEmbedder()) as ms:
            print(json.dumps([ms.settings.max_records, ms.settings.session_boost]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(out.stdout) == [7, 0.1]


def test_the_cli_shows_and_sets_shared_settings(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MEMORYSPACE_DB": str(tmp_path / "cli.db"),
        "MEMORYSPACE_EMBEDDER": "hashing",
        "MEMORYSPACE_CACHE": str(tmp_path / "cache"),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "memoryspace", *args, "--json"]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)

    done = cli("config", "set", "max_records", "500")
    assert done.returncode == 0, done.stderr
    shown = json.loads(cli("config", "show").stdout)
    assert shown["settings"]["max_records"] == 500 and shown["stored"] == [
        "max_records",
        "vector_precision",
    ]
    refused = cli("config", "set", "durability", "full")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"]["type"] == "InvalidInput"
    with open_space(tmp_path / "cli.db") as ms:
        assert ms.settings.max_records == 500
