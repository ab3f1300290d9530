"""``memoryspace bench scale`` and its parts, on a tiny data folder laid out like shared/data.

The folder holds a hand-written LoCoMo conversation, a LongMemEval haystack, a text8 line and an
enwik8 page, so every source of the corpus is exercised; vectors are the hashing embedder's (the
cache, the runner and the peers do not care which model made them), and every cache lives in
the test's own folder (``MEMORYSPACE_CACHE``).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from memoryspace.bench.scale import corpus as corpus_module
from memoryspace.bench.scale.corpus import EXPECTED, Corpus, cut, load_corpus, require_folder
from memoryspace.bench.scale.disk import PARTS, breakdown
from memoryspace.bench.scale.ours import LookupEmbedder
from memoryspace.bench.scale.precision import measure
from memoryspace.bench.scale.runner import ratios, vectors_for
from memoryspace.bench.scale.timing import exact_top
from memoryspace.bench.scale.vectors import VectorFile, cached_vectors
from memoryspace.embed import HashingEmbedder
from memoryspace.embed.base import Vectors
from memoryspace.errors import InvalidInput
from memoryspace.space import MemorySpace

TOPICS = ["sailing", "baking", "chess", "gardening", "violin", "astronomy", "pottery", "cycling"]


def _locomo() -> list[dict[str, object]]:
    turns = [
        {
            "speaker": "Ana" if i % 2 else "Bo",
            "dia_id": f"D1:{i}",
            "text": f"I love {t} on weekends.",
        }
        for i, t in enumerate(TOPICS, 1)
    ]
    return [
        {
            "sample_id": "conv-x",
            "conversation": {
                "speaker_a": "Ana",
                "speaker_b": "Bo",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": turns,
            },
            "qa": [
                {
                    "question": f"What does Ana say about {t}?",
                    "answer": t,
                    "category": 4,
                    "evidence": ["D1:1"],
                }
                for t in TOPICS
            ],
        }
    ]


def _longmemeval() -> list[dict[str, object]]:
    long_turn = " ".join(f"Sentence {i} is about {TOPICS[i % 8]} and more." for i in range(40))
    return [
        {
            "question_id": "q1",
            "question_type": "single-session-user",
            "question": "Which hobby did I start last spring?",
            "question_date": "2023/05/20 (Sat) 02:21",
            "answer": "pottery",
            "answer_session_ids": ["s1"],
            "haystack_dates": ["2023/05/01 (Mon) 10:00"],
            "haystack_session_ids": ["s1"],
            "haystack_sessions": [
                [
                    {
                        "role": "user",
                        "content": "I started pottery last spring.",
                        "has_answer": True,
                    },
                    {"role": "assistant", "content": long_turn},
                ]
            ],
        }
    ]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    for name in EXPECTED:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / corpus_module.LOCOMO).write_text(json.dumps(_locomo()))
    (folder / corpus_module.LONGMEMEVAL).write_bytes(
        gzip.compress(json.dumps(_longmemeval()).encode())
    )
    words = " ".join(f"{TOPICS[i % 8]}{i % 97} word{i % 13}" for i in range(3000))
    (folder / corpus_module.TEXT8).write_text(words)
    page = (
        '<mediawiki><page><title>Chess</title><text xml:space="preserve">'
        "'''Chess''' is a [[board game|game]] for two players played on a checkered board of "
        "sixty-four squares.{{cite}}\n[[Category:Games]]\nThe pieces move in different ways "
        "and the aim is to checkmate the opposing king.</text></page></mediawiki>"
    )
    (folder / corpus_module.ENWIK8).write_text(page)
    return folder


def test_cut_packs_sentences_into_passages_of_about_the_size() -> None:
    text = " ".join(f"This is sentence number {i} of a long text." for i in range(60))
    passages = list(cut(text, 200))
    assert len(passages) > 5
    assert all(len(p) <= 200 + 20 for p in passages)
    assert " ".join(passages).split() == text.split()  # nothing lost, nothing reordered


def test_a_short_text_is_one_passage_and_an_empty_one_none() -> None:
    assert list(cut("Hello there.", 200)) == ["Hello there."]
    assert list(cut("   ", 200)) == []


def test_missing_files_are_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        require_folder(tmp_path)
    for name in EXPECTED:
        assert name in str(caught.value)
    assert "--data" in str(caught.value)


def test_corpus_mixes_every_source_and_is_saved_for_the_next_run(
    data: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    corpus = load_corpus(data, cache)
    assert all(count > 0 for count in corpus.sources.values()), corpus.sources
    assert len(set(corpus.passages)) == len(corpus.passages)
    assert "Which hobby did I start last spring?" in corpus.queries
    assert any("checkmate" in p for p in corpus.passages)  # enwik8 text, markup gone
    assert not any("[[" in p or "'''" in p for p in corpus.passages)
    assert list(cache.glob("corpus-*.json"))
    again = load_corpus(data, cache)
    assert again == corpus and again.digest() == corpus.digest()


def test_texts_past_the_pool_are_suffixed_copies_and_stay_unique() -> None:
    corpus = Corpus(("a b", "c d", "e f"), ("q?",), {"x": 3})
    texts = corpus.texts(7)
    assert texts[:3] == ["a b", "c d", "e f"]
    assert texts[3] == "a b [copy 1]" and texts[6] == "a b [copy 2]"
    assert len(set(texts)) == 7 and corpus.copies(7) == 4 and corpus.copies(2) == 0


class CountingEmbedder:
    """The hashing embedder, counting the texts it was asked to embed."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.embedded = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return self.inner.embed(texts)


def test_vectors_are_embedded_once_and_a_longer_prefix_only_adds_rows(tmp_path: Path) -> None:
    texts = [f"passage {i} about {TOPICS[i % 8]}" for i in range(1200)]
    embedder = CountingEmbedder()
    first = cached_vectors(texts[:700], "digest", embedder, folder=tmp_path)
    assert embedder.embedded == 700
    again = cached_vectors(texts[:700], "digest", embedder, folder=tmp_path)
    assert embedder.embedded == 700 and np.array_equal(first, again)
    longer = cached_vectors(texts, "digest", embedder, folder=tmp_path)
    assert embedder.embedded == 1200
    assert np.allclose(longer, HashingEmbedder().embed(texts), atol=1e-6)
    other = cached_vectors(texts[:10], "other-digest", embedder, folder=tmp_path)
    assert embedder.embedded == 1210 and len(other) == 10


def test_an_interrupted_fill_keeps_the_rows_it_counted(tmp_path: Path) -> None:
    store = VectorFile(tmp_path, "hashing/model", "d", 4)
    store.append(0, np.ones((3, 4), np.float32))
    assert store.count() == 3
    store.path.write_bytes(store.path.read_bytes() + b"\x00" * 8)  # half a row, never counted
    assert store.count() == 3 and np.array_equal(store.read(3), np.ones((3, 4)))


def test_disk_breakdown_accounts_for_every_byte_of_the_database(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add_many([f"memory {i} about {TOPICS[i % 8]}" for i in range(300)])
    parts = breakdown(path)
    assert parts is not None and set(parts) == set(PARTS)
    assert parts["log"] > 0 and parts["vectors"] > 0 and parts["fulltext"] > 0
    in_file = sum(v for k, v in parts.items() if k not in ("index_files", "wal"))
    assert in_file == path.stat().st_size


def test_lookup_embedder_returns_the_given_vectors_and_refuses_others() -> None:
    vectors = HashingEmbedder().embed(["one", "two"])
    lookup = LookupEmbedder("hashing-x", ["one", "two"], vectors)
    assert np.array_equal(lookup.embed(["two", "one"]), vectors[[1, 0]])
    with pytest.raises(InvalidInput):
        lookup.embed(["three"])


def test_exact_top_matches_a_full_sort_across_blocks() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((600, 8)).astype(np.float32)
    query = rng.standard_normal(8).astype(np.float32)
    assert exact_top(vectors, query, 10) == set(np.argsort(-(vectors @ query))[:10].tolist())


def test_precision_rows_for_each_storage_type() -> None:
    texts = [f"memory {i} about {TOPICS[i % 8]} number {i % 37}" for i in range(2000)]
    vectors = HashingEmbedder().embed(texts)
    rows = measure(vectors, vectors[:20])
    assert [r["dtype"] for r in rows] == ["f32", "f16", "i8"]
    f32, f16, i8 = rows
    assert f32["exact_rounded_recall_at_10"] == 1.0
    assert f16["exact_rounded_recall_at_10"] >= 0.9
    assert i8["index_bytes_per_vector"] < f32["index_bytes_per_vector"]


def test_auto_vectors_switch_to_hashing_above_the_real_limit() -> None:
    assert vectors_for(10_000, "auto", 100_000) == "minilm"
    assert vectors_for(1_000_000, "auto", 100_000) == "hashing"
    assert vectors_for(10, "hashing", 100_000) == "hashing"
    with pytest.raises(InvalidInput):
        vectors_for(10, "fast", 100_000)


def test_ratios_divide_each_peer_by_ours_at_the_same_size() -> None:
    rows = [
        {"system": "memoryspace", "n": 10, "add_per_s": 100.0, "peak_rss_mb": 50.0},
        {"system": "lancedb", "n": 10, "add_per_s": 300.0, "peak_rss_mb": 25.0},
        {"system": "chromadb", "n": 10, "note": "skipped"},
    ]
    [entry] = ratios(rows)
    assert entry["add_per_s_vs_ours"] == 3.0 and entry["peak_rss_mb_vs_ours"] == 0.5


def test_bench_scale_end_to_end_with_the_peers(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "MEMORYSPACE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "memoryspace",
            "bench",
            "scale",
            "--data",
            str(data),
            "--n",
            "150",
            "--vectors",
            "hashing",
            "--queries",
            "5",
            "--batch",
            "40",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    measured = {(r["system"], r["n"]) for r in doc["rows"] if "add_per_s" in r}
    assert ("memoryspace", 150) in measured
    ours = next(r for r in doc["rows"] if r["system"] == "memoryspace" and r["n"] == 150)
    assert ours["vectors"] == "hashing (not MiniLM)"
    assert ours["dense_recall_at_10"] == 1.0  # exact index below the HNSW threshold
    assert ours["disk_log_per_memory"] > 0 and ours["peak_rss_mb"] > 0
    for peer in ("lancedb", "chromadb"):
        row = next(r for r in doc["rows"] if r["system"] == peer and r["n"] == 150)
        assert "add_per_s" in row or row["note"], row
    assert doc["sizes"]["150"]["cycled_copies"] == max(0, 150 - doc["corpus"]["distinct_passages"])
    assert (out / "scale.csv").is_file() and (out / "scale.png").is_file()
    assert (out / "scale.json").is_file()
    kept = [json.loads(line) for line in (out / "scale.rows.jsonl").read_text().splitlines()]
    assert kept == doc["rows"]  # each row was kept as it finished
    assert list((tmp_path / "cache" / "scale-vectors").glob("*.f32"))  # vectors kept for reuse


def _scale(data: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMORYSPACE_CACHE": str(tmp_path / "cache")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "memoryspace",
            "bench",
            "scale",
            "--data",
            str(data),
            "--vectors",
            "hashing",
            "--queries",
            "3",
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_db_runs_memoryspace_on_the_database_given(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "given.db"
    done = _scale(
        data, tmp_path, "--n", "120", "--systems", "memoryspace", "--db", f"sqlite:///{target}"
    )
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)["rows"]
    assert row["n"] == 120 and row["add_per_s"] > 0
    with MemorySpace.open(target, embedder="hashing", create=False) as ms:
        assert ms.count() == 120


def test_db_with_several_sizes_and_an_unknown_system_are_refused(
    data: Path, tmp_path: Path
) -> None:
    several = _scale(data, tmp_path, "--n", "100,200", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert several.returncode != 0
    assert json.loads(several.stdout)["error"]["type"] == "InvalidInput"
    assert "one size" in several.stdout
    unknown = _scale(data, tmp_path, "--n", "100", "--systems", "memoryspace,faiss")
    assert unknown.returncode != 0 and "unknown system faiss" in unknown.stdout
