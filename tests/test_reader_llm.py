"""The LLM reading policy against a real chat-completions server on 127.0.0.1: MemAgent's
prompt, provenance of copied and written sentences, repairs, budget trimming and fallbacks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chat_server import FakeChat, Step, serve_chat
from memoryspace import MemorySpace
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.llm import OpenAICompatibleLLM
from memoryspace.reader import LLMPolicy, OfflinePolicy, read

COUNT = default_token_counter()
QUESTION = "Where was the composer of the Lantern Suite born?"
TEXT = " ".join(
    [
        "The Lantern Suite was composed by Ilse Marrow in 1931.",
        *[f"Harbour {n} was dredged in the spring of year {n}." for n in range(12)],
        "Ilse Marrow was born in Tallinn and studied in Vienna.",
        *[f"Bridge {n} was painted green in the autumn of year {n}." for n in range(12)],
    ]
)


def _task(body: dict[str, Any]) -> str:
    """The reading prompt of a request (repairs append messages after it)."""
    return next(m["content"] for m in body["messages"] if "<section>" in m["content"])


def _part(task: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", task, re.DOTALL)
    assert match, f"no <{tag}> in the prompt"
    return match.group(1)


def keep_named(body: dict[str, Any]) -> str:
    """A well-behaved model: keeps the memory's and the section's sentences naming Ilse Marrow
    or the Lantern Suite, and adds one note of its own."""
    task = _task(body)
    lines = [*_part(task, "memory").splitlines(), *_part(task, "section").splitlines()]
    kept = [s for s in lines if "Marrow" in s or "Lantern" in s]
    return json.dumps({"memory": " ".join([*dict.fromkeys(kept), "Note: follow the composer."])})


@pytest.fixture
def api() -> Iterator[FakeChat]:
    with serve_chat() as fake:
        yield fake


def _llm(api: FakeChat) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(api.url, "test-model", max_retries=0, sleep=lambda _: None)


def test_the_model_overwrites_the_memory_with_memagents_prompt(api: FakeChat) -> None:
    api.respond = keep_named
    llm = _llm(api)
    reading = read(TEXT, QUESTION, chunk_tokens=64, memory_tokens=96, policy=LLMPolicy(llm, COUNT))
    assert len(api.requests) == len(reading.chunks) > 3
    first, later = _task(api.bodies()[0]), _task(api.bodies()[-1])
    assert "You are presented with a problem, a section of an article" in first
    assert QUESTION in first and "No previous memory" in first
    assert "Ilse Marrow was born in Tallinn" in _part(later, "memory")  # the memory carried on
    assert sorted(s.text for s in reading.kept) == [
        "Ilse Marrow was born in Tallinn and studied in Vienna.",
        "Note: follow the composer.",
        "The Lantern Suite was composed by Ilse Marrow in 1931.",
    ]
    for sentence in reading.kept:
        if sentence.generated:
            assert sentence.text == "Note: follow the composer."
        else:  # copied sentences keep where they were read
            assert TEXT[sentence.offset : sentence.offset + len(sentence.text)] == sentence.text
    assert {c.policy for c in reading.chunks} == {"llm"}
    assert reading.totals()["fallbacks"] == 0 == reading.totals()["repairs"]
    llm.close()


def test_a_malformed_reply_is_repaired_by_quoting_the_problem_back(api: FakeChat) -> None:
    def prose_first(body: dict[str, Any]) -> str:
        if "could not be used" in body["messages"][-1]["content"]:
            return "```json\n" + keep_named(body) + "\n```"
        return "Sure! I updated the memory: the composer is Ilse Marrow."

    api.respond = prose_first
    reading = read(
        TEXT, QUESTION, chunk_tokens=64, memory_tokens=96, policy=LLMPolicy(_llm(api), COUNT)
    )
    chunks = len(reading.chunks)
    assert reading.totals()["repairs"] == chunks and reading.totals()["fallbacks"] == 0
    assert len(api.requests) == 2 * chunks
    assert "Ilse Marrow was born in Tallinn and studied in Vienna." in reading.memory


def test_a_model_that_never_answers_usably_falls_back_to_offline_per_chunk(
    api: FakeChat,
) -> None:
    api.respond = lambda body: "I would rather not."
    reading = read(
        TEXT, QUESTION, chunk_tokens=64, memory_tokens=96, policy=LLMPolicy(_llm(api), COUNT)
    )
    offline = read(TEXT, QUESTION, chunk_tokens=64, memory_tokens=96, policy=OfflinePolicy())
    assert reading.totals()["fallbacks"] == len(reading.chunks)
    assert {c.policy for c in reading.chunks} == {"offline"}
    assert reading.memory == offline.memory  # the fallback decided every chunk, identically
    assert "I would rather not" not in reading.memory


def test_server_errors_fall_back_and_later_chunks_use_the_model_again(api: FakeChat) -> None:
    api.script = [Step("status", status=500), Step("status", status=503)]
    api.respond = keep_named
    reading = read(
        TEXT, QUESTION, chunk_tokens=64, memory_tokens=96, policy=LLMPolicy(_llm(api), COUNT)
    )
    assert [c.fallback for c in reading.chunks[:3]] == [True, True, False]
    assert reading.totals()["fallbacks"] == 2
    assert "Ilse Marrow was born in Tallinn and studied in Vienna." in reading.memory


def test_a_reply_over_the_budget_is_trimmed_to_fit(api: FakeChat) -> None:
    long_memory = " ".join(f"Fact {n} about Ilse Marrow and her suites." for n in range(80))
    api.respond = lambda body: json.dumps({"memory": long_memory})
    reading = read(
        TEXT, QUESTION, chunk_tokens=64, memory_tokens=48, policy=LLMPolicy(_llm(api), COUNT)
    )
    assert COUNT(reading.memory) <= 48
    assert reading.kept[0].text == "Fact 0 about Ilse Marrow and her suites."
    assert all(c.trimmed > 60 for c in reading.chunks)
    assert reading.totals()["fallbacks"] == 0


def test_a_space_reads_with_its_configured_model_and_counts_the_calls(
    api: FakeChat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.respond = keep_named
    monkeypatch.setenv("MEMORYSPACE_LLM_URL", api.url)
    monkeypatch.setenv("MEMORYSPACE_LLM_MODEL", "test-model")
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        reading = ms.read(
            TEXT, QUESTION, chunk_tokens=64, memory_tokens=96, policy="llm", store=True
        )
        stats = ms.stats()
        stored = [ms.get(id) for id in reading.records]
    assert stats["llm"]["calls"] == len(reading.chunks) == len(api.requests)
    assert stats["counters"]["read_fallbacks"] == 0
    assert stored[0].meta["reader"]["policy"] == "llm"
    written = [m for m in stored[1:] if m.meta["reader"]["offset"] is None]
    assert [m.content for m in written] == ["Note: follow the composer."]
