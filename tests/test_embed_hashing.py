"""HashingEmbedder: deterministic, normalised, similarity-preserving, never NaN."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from memoryspace.embed import Embedder, HashingEmbedder
from memoryspace.errors import InvalidInput


def test_satisfies_the_protocol() -> None:
    embedder = HashingEmbedder()
    assert isinstance(embedder, Embedder)
    assert embedder.dimension == 384
    assert embedder.model_id == "hashing-384-v1"


def test_model_id_names_dimension_and_seed() -> None:
    assert HashingEmbedder(dimension=64).model_id == "hashing-64-v1"
    assert HashingEmbedder(seed=7).model_id == "hashing-384-seed7-v1"


def test_shape_dtype_and_unit_rows() -> None:
    texts = ["The cat sat on the mat.", "", "   ", "!!!", "東京は日本の首都です", "a" * 10_000]
    vectors = HashingEmbedder(dimension=128).embed(texts)
    assert vectors.shape == (len(texts), 128)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_empty_batch() -> None:
    vectors = HashingEmbedder(dimension=16).embed([])
    assert vectors.shape == (0, 16)
    assert vectors.dtype == np.float32


def test_blank_texts_share_one_fixed_vector() -> None:
    vectors = HashingEmbedder().embed(["", " ", "\n\t"])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    np.testing.assert_array_equal(vectors[0], vectors[2])


def test_deterministic_across_instances_and_batches() -> None:
    texts = ["alpha beta", "gamma delta epsilon"]
    together = HashingEmbedder().embed(texts)
    alone = np.vstack([HashingEmbedder().embed([text]) for text in texts])
    np.testing.assert_array_equal(together, alone)


def test_deterministic_across_processes() -> None:
    """Python's hash() is salted per process; the embedder must not depend on it."""
    code = (
        "from memoryspace.embed import HashingEmbedder;"
        "print(HashingEmbedder(dimension=32).embed(['stable across runs']).tobytes().hex())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    expected = HashingEmbedder(dimension=32).embed(["stable across runs"]).tobytes().hex()
    assert outputs == {expected + "\n"}


def test_seed_changes_vectors() -> None:
    one = HashingEmbedder(seed=0).embed(["same text"])
    two = HashingEmbedder(seed=1).embed(["same text"])
    assert not np.allclose(one, two)


def test_case_insensitive() -> None:
    vectors = HashingEmbedder().embed(["Dark Mode", "dark mode"])
    np.testing.assert_array_equal(vectors[0], vectors[1])


def test_shared_words_are_closer_than_unrelated_text() -> None:
    query, paraphrase, unrelated = HashingEmbedder().embed(
        [
            "the user prefers dark mode in the editor",
            "user prefers the editor in dark mode",
            "quarterly revenue grew twelve percent",
        ]
    )
    assert float(query @ paraphrase) > 0.6
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.4


def test_word_order_matters_through_bigrams() -> None:
    a, b = HashingEmbedder().embed(["dog bites man", "man bites dog"])
    assert float(a @ b) < 0.999


def test_inflections_overlap_through_trigrams() -> None:
    running, runner, other = HashingEmbedder().embed(["running", "runner", "xyzzy"])
    assert float(running @ runner) > float(running @ other) + 0.1


def test_punctuation_only_texts_differ() -> None:
    a, b = HashingEmbedder().embed(["!!!", "???"])
    assert float(a @ b) < 0.99


@pytest.mark.parametrize("bad", [["ok", 3], ["ok", None], [b"bytes"]])
def test_rejects_non_strings(bad: list[object]) -> None:
    with pytest.raises(InvalidInput, match="not str"):
        HashingEmbedder().embed(bad)  # type: ignore[arg-type]


def test_rejects_a_bare_string() -> None:
    with pytest.raises(InvalidInput, match="sequence"):
        HashingEmbedder().embed("not a list")


@pytest.mark.parametrize("dimension", [0, 1, -5, 2.5, True])
def test_rejects_bad_dimension(dimension: object) -> None:
    with pytest.raises(InvalidInput):
        HashingEmbedder(dimension=dimension)  # type: ignore[arg-type]


def test_lone_surrogates_do_not_crash() -> None:
    vectors = HashingEmbedder().embed(["broken \ud800 text"])
    assert np.isfinite(vectors).all()
