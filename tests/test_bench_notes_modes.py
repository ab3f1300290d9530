"""The ``notes`` benchmark mode and its options: ``notes:expand=N`` beside ``notes`` and the
flat mode in one run of ``bench locomo`` and ``bench longmemeval``, the note texts embedded
before the clock starts, and the model calls counted (0 offline)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from memoryspace.bench.mode_factory import make_mode, parse_modes, split_mode
from memoryspace.bench.notes_mode import NotesMode
from memoryspace.embed import CachedEmbedder, EmbeddingCache, HashingEmbedder
from memoryspace.embed.base import Vectors
from memoryspace.errors import InvalidInput
from memoryspace.models import SearchHit
from test_bench_cli import CONV_A, CONV_B, LME_ENTRY, _json

ENV = ("MEMORYSPACE_LLM_URL", "MEMORYSPACE_LLM_MODEL", "MEMORYSPACE_LLM_API_KEY")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.asked.extend(texts)
        return super().embed(texts)


def records(scope: str = "u") -> list[dict[str, object]]:
    texts = [
        "I am planning a trip to Japan in April with my sister Anna.",
        "Anna booked a Kyoto hotel for the Japan trip.",
        "My sourdough starter finally bubbles.",
    ]
    return [
        {"content": t, "user": scope, "timestamp": 1e9 + n, "meta": {"ref": f"{scope}{n}"}}
        for n, t in enumerate(texts)
    ]


def test_mode_options_are_parsed_and_checked() -> None:
    assert split_mode("notes:expand=0") == ("notes", {"expand": 0})
    assert split_mode("notes") == ("notes", {})
    assert parse_modes("memoryspace,notes,notes:expand=0") == [
        "memoryspace",
        "notes",
        "notes:expand=0",
    ]
    for bad, says in [
        ("notes:expand=7", "integer 0..3"),
        ("notes:expand=one", "integer 0..3"),
        ("notes:depth=1", "takes options expand=N"),
        ("bm25:expand=0", "takes options none"),
        ("notes:expand", "takes options expand=N"),
    ]:
        with pytest.raises(InvalidInput, match=says):
            parse_modes(f"memoryspace,{bad}")
    with pytest.raises(InvalidInput, match="--modes takes some of"):
        parse_modes("nodes:expand=0")


def test_expand_reaches_the_notes_search(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []

    def spying(search: Callable[..., list[SearchHit]]) -> Callable[..., list[SearchHit]]:
        def spy(query: str, **options: Any) -> list[SearchHit]:
            asked.append(options.get("expand"))
            return search(query, **options)

        return spy

    for spec in ("notes", "notes:expand=0", "notes:expand=2"):
        mode = make_mode(spec, ref_key="ref", embedder=HashingEmbedder(), capacity=1)
        assert isinstance(mode, NotesMode)
        try:
            mode.ingest(records())
            notes = mode.notes["u"]
            monkeypatch.setattr(notes, "search", spying(notes.search))
            assert mode.rank("Japan trip", 3, scope="u")
        finally:
            mode.close()
    assert asked == [None, 0, 2]  # None: Notes.search's own default


def test_note_texts_are_embedded_before_ingest_is_timed(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    embedder = CachedEmbedder(inner, EmbeddingCache(tmp_path / "cache.sqlite"))
    batch = records()
    embedder.embed([str(r["content"]) for r in batch])  # the benchmark warms contents first
    mode = make_mode("notes", ref_key="ref", embedder=embedder, capacity=1)
    try:
        mode.prepare(batch)
        warmed = len(inner.asked)
        mode.ingest(batch)
        after_ingest = len(inner.asked)
        ranked = mode.rank("Where is Anna staying in Kyoto?", 3, scope="u")
    finally:
        mode.close()
    assert warmed == 3 + 3  # the contents, then each note's content + keywords + tags + context
    assert after_ingest == warmed  # adding notes embedded nothing new
    assert ranked[0] == "u1" and set(ranked) == {"u0", "u1", "u2"}


def test_locomo_notes_beside_flat_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([CONV_A, CONV_B]), encoding="utf-8")
    doc = _json(
        [
            "bench",
            "locomo",
            "--data",
            str(path),
            "--embedder",
            "hashing",
            "--modes",
            "memoryspace,notes,notes:expand=0",
            "--json",
        ]
    )
    modes = doc["modes"]
    assert list(modes) == ["memoryspace", "notes", "notes:expand=0"]
    for name in ("notes", "notes:expand=0"):
        assert modes[name]["llm_calls_per_turn"] == 0.0
        assert modes[name]["ingest_turns_per_s"] > 0
        assert 0.0 <= modes[name]["recall@10"]["all_1_4"] <= 1.0
    assert "llm_calls_per_turn" not in modes["memoryspace"]


def test_longmemeval_notes_beside_flat_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "lme.json.gz"
    path.write_bytes(gzip.compress(json.dumps([LME_ENTRY]).encode()))
    doc = _json(
        [
            "bench",
            "longmemeval",
            "--data",
            str(path),
            "--embedder",
            "hashing",
            "--modes",
            "memoryspace,notes,notes:expand=0",
            "--json",
        ]
    )
    modes = doc["modes"]
    assert list(modes) == ["memoryspace", "notes", "notes:expand=0"]
    for name in ("notes", "notes:expand=0"):
        notes = modes[name]
        assert (notes["llm_calls"], notes["llm_calls_per_turn"]) == (0, 0.0)
        # all three has_answer turns are among the 6 turns every mode ranks
        assert notes["turn_recall@10"]["overall"] == 1.0
        assert notes["session_any@5"]["overall"] == 1.0
        assert 0.0 < notes["session_ndcg@10"]["overall"] <= 1.0
    assert "llm_calls" not in modes["memoryspace"]
