"""The reader (MemAgent workflow), offline: streaming, budgets, provenance, bridging, storing."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoryspace import InvalidInput, MemoryProfiler, MemorySpace, ReadOnly
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.reader import OfflinePolicy, read, stream_sentences
from memoryspace.reader import stream as stream_module

COUNT = default_token_counter()
QUESTION = "Which country was the director of the film Nebula Crossing born in?"
HOP1 = "Nebula Crossing is a 1998 drama film directed by Oskar Vellamo."
HOP2 = "Oskar Vellamo was born in Finland and trained as a painter."
SYLLABLES = ["ka", "lo", "mi", "ren", "tav", "so", "dur", "pel", "vin", "ath", "or", "bes"]
COUNTRIES = ["Chile", "Norway", "Kenya", "Peru", "Japan", "Ghana", "Spain", "Laos"]


def _name(rng: random.Random) -> str:
    def word() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()

    return f"{word()} {word()}"


def distractors(rng: random.Random, n: int) -> list[str]:
    """Sentences that share the question's words but name other people and films."""
    out = []
    for _ in range(n):
        kind = rng.randrange(3)
        if kind == 0:
            out.append(f"{_name(rng)} was born in a small country town in {rng.choice(COUNTRIES)}.")
        elif kind == 1:
            out.append(f"{_name(rng)} is a {rng.randrange(1950, 2020)} film by {_name(rng)}.")
        else:
            out.append(
                f"The harbour of {_name(rng)} was rebuilt after the {rng.choice(SYLLABLES)} storm."
            )
    return out


def two_hop_text(seed: int = 3, before: int = 40, between: int = 300) -> str:
    rng = random.Random(seed)
    sentences = [*distractors(rng, before), HOP1, *distractors(rng, between), HOP2]
    sentences += distractors(rng, 60)
    return " ".join(sentences)


def test_bridging_keeps_the_second_hop_that_shares_no_word_but_a_name() -> None:
    text = two_hop_text()
    reading = read(text, QUESTION, chunk_tokens=256, memory_tokens=64)
    assert len(reading.chunks) > 10  # the hops are far apart: many chunks in between
    kept = [s.text for s in reading.kept]
    assert HOP1 in kept and HOP2 in kept
    ablated = read(
        text, QUESTION, chunk_tokens=256, memory_tokens=64, policy=OfflinePolicy(bridge_weight=0)
    )
    assert HOP2 not in [s.text for s in ablated.kept]


def test_the_memory_never_exceeds_its_budget_and_the_chunks_theirs() -> None:
    text = two_hop_text(seed=5)
    for memory_tokens in (16, 64, 300):
        reading = read(text, QUESTION, chunk_tokens=128, memory_tokens=memory_tokens)
        assert COUNT(reading.memory) <= memory_tokens
        assert reading.memory_tokens_used <= memory_tokens
        assert all(c.tokens_in <= 128 for c in reading.chunks)
        assert all(c.memory_tokens <= memory_tokens for c in reading.chunks)
        assert sum(c.tokens_in for c in reading.chunks) == reading.tokens_read


@settings(max_examples=25, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(["alpha", "Beta", "gamma.", "delta!", "é", "Dr.", "x?", "\n", "U.S.", "9"]),
        max_size=300,
    ),
    memory_tokens=st.integers(16, 80),
)
def test_memory_fits_and_every_kept_sentence_is_where_it_says(
    words: list[str], memory_tokens: int
) -> None:
    text = " ".join(words)
    reading = read(text, None, chunk_tokens=32, memory_tokens=memory_tokens)
    assert COUNT(reading.memory) <= memory_tokens
    for sentence in reading.kept:
        assert sentence.offset is not None
        assert text[sentence.offset : sentence.offset + len(sentence.text)] == sentence.text
        chunk = reading.chunks[sentence.chunk]
        assert chunk.offset <= sentence.offset < chunk.offset + chunk.chars


@pytest.mark.parametrize("block", [1, 7, 4096])
def test_a_file_streams_in_blocks_without_losing_or_moving_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(stream_module, "BLOCK_BYTES", block)
    text = "Zoë met Dr. Ngata in São Paulo. It rained!\n\nThen: « encore » … fin. " * 20
    path = tmp_path / "in.txt"
    path.write_text(text, encoding="utf-8")
    seen: list[tuple[int, int | None]] = []
    sentences = list(
        stream_sentences(path, COUNT, 64, progress=lambda done, total: seen.append((done, total)))
    )
    assert "".join(s.text for s in sentences).replace(" ", "") == "".join(text.split())
    for sentence in sentences:
        assert text[sentence.offset : sentence.offset + len(sentence.text)] == sentence.text
    assert "Zoë met Dr. Ngata in São Paulo." in [s.text for s in sentences]  # "Dr." is no end
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    # a line break starts a paragraph: the text's 20 breaks make 21 paragraphs
    assert len({s.paragraph for s in sentences}) == 21


def test_text_without_punctuation_is_cut_into_sentences_that_fit() -> None:
    text = " ".join(f"word{n}" for n in range(5000))  # text8 has no sentence ends at all
    sentences = list(stream_sentences(text, COUNT, 50))
    assert len(sentences) > 10
    assert all(s.tokens <= 50 for s in sentences)
    assert " ".join(s.text for s in sentences) == text


def test_an_endless_generator_is_read_lazily_up_to_max_tokens() -> None:
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        rng = random.Random(1)
        while True:
            pulled += 1
            yield " ".join(distractors(rng, 5)) + " "

    reading = read(endless(), QUESTION, chunk_tokens=128, memory_tokens=64, max_tokens=5000)
    assert 5000 <= reading.tokens_read <= 5000 + 128
    assert pulled < 200  # a few pieces past the limit, not the (infinite) whole


def _peak_bytes(path: Path, tokens: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        read(path, QUESTION, chunk_tokens=1024, memory_tokens=128, max_tokens=tokens)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_use_does_not_grow_with_the_text_read(tmp_path: Path) -> None:
    """Python allocations at the peak of a read, once the embedder's and the stemmer's bounded
    per-word caches hold the file's vocabulary. Reading ten times as much adds the per-chunk
    counters of the result and the largest chunk's temporaries (under half the extra text's
    size); a reader that held the text would add at least all of it."""
    path = tmp_path / "long.txt"
    rng = random.Random(2)
    with path.open("w", encoding="utf-8") as handle:
        for _ in range(200):
            handle.write(" ".join(distractors(rng, 50)) + "\n")
    read(path, QUESTION, chunk_tokens=1024, memory_tokens=128)  # fill the bounded word caches
    small, large = _peak_bytes(path, 8_000), _peak_bytes(path, 80_000)
    extra_text = 72_000 * 4  # about four characters a token
    assert path.stat().st_size > 80_000 * 4
    assert large - small < extra_text / 2


def test_without_a_question_repeats_are_kept_once() -> None:
    rng = random.Random(4)
    repeated = "The treaty of Verlune ended the war in 1648."
    text = " ".join([*distractors(rng, 20), *([repeated] * 30), *distractors(rng, 20)])
    reading = read(text, chunk_tokens=128, memory_tokens=200)
    assert [s.text for s in reading.kept].count(repeated) <= 1
    assert reading.totals()["sentences_read"] == 70


def test_counters_account_for_every_sentence() -> None:
    reading = read(two_hop_text(seed=8), QUESTION, chunk_tokens=128, memory_tokens=64)
    assert sum(c.kept for c in reading.chunks) - sum(c.evicted for c in reading.chunks) == len(
        reading.kept
    )
    for row in reading.chunks:
        assert row.kept + row.dropped - row.evicted == row.sentences
        assert row.policy == "offline" and not row.fallback
    assert reading.to_dict()["totals"]["chunks"] == len(reading.chunks)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": b"bytes"}, "decode bytes"),
        ({"source": 42}, "iterable of strings"),
        ({"source": ["ok", 3]}, "must yield text"),
        ({"source": Path("/no/such/file.txt")}, "cannot read"),
        ({"question": ""}, "non-empty string"),
        ({"chunk_tokens": 0}, "chunk_tokens"),
        ({"memory_tokens": True}, "memory_tokens"),
        ({"memory_tokens": "1024"}, "memory_tokens"),
        ({"policy": "psychic"}, "policy must be"),
        ({"max_tokens": -1}, "max_tokens"),
    ],
)
def test_bad_arguments_are_refused_with_what_to_do(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"source": "Some text. More text.", **kwargs}
    source = arguments.pop("source")
    with pytest.raises(InvalidInput, match=message):
        read(source, **arguments)  # type: ignore[arg-type]


def test_the_llm_policy_without_a_model_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMORYSPACE_LLM_URL", raising=False)
    with pytest.raises(InvalidInput, match="MEMORYSPACE_LLM_URL"):
        read("Some text.", policy="llm")


def test_a_space_reads_stores_the_memory_and_counts_it(tmp_path: Path) -> None:
    source = tmp_path / "film.txt"
    source.write_text(two_hop_text(), encoding="utf-8")
    profiler = MemoryProfiler()
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing", profiler=profiler) as ms:
        reading = ms.read(
            source, QUESTION, chunk_tokens=256, memory_tokens=64, store=True, user="ada"
        )
        stats = ms.stats()
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:  # reopened: durable
        note, *kept = [ms.get(id) for id in reading.records]
        found = ms.search("Oskar Vellamo born", k=3, kind="working", user="ada")
    assert note.kind == "note" and note.meta["reader"]["source"] == str(source)
    assert note.meta["reader"]["tokens_read"] == reading.tokens_read
    assert [m.content for m in kept] == [s.text for s in reading.kept]
    for memory, sentence in zip(kept, reading.kept, strict=True):
        assert memory.kind == "working" and memory.user == "ada"
        assert [(link.id, str(link.type), link.strong) for link in memory.links] == [
            (note.id, "derived_from", True)
        ]
        assert memory.meta["reader"]["offset"] == sentence.offset
    assert found and found[0].memory.content == HOP2
    assert stats["counters"]["reads"] == 1
    assert stats["counters"]["read_chunks"] == len(reading.chunks)
    assert stats["counters"]["read_tokens"] == reading.tokens_read
    assert stats["profile"]["read"]["count"] == len(reading.chunks)


def test_a_space_can_store_the_memory_as_one_summary(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        reading = ms.read(
            two_hop_text(), QUESTION, memory_tokens=64, store=True, store_kind="summary"
        )
        note, summary = [ms.get(id) for id in reading.records]
        assert summary.kind == "summary" and summary.content == reading.memory
        assert summary.link_ids(strong=True) == [note.id]
        assert len(summary.meta["reader"]["sentences"]) == len(reading.kept)
        with pytest.raises(InvalidInput, match="scope user, agent, session"):
            ms.read("Text.", store=True, tags=["x"])
        with pytest.raises(InvalidInput, match="store_kind"):
            ms.read("Text.", store=True, store_kind="fact")  # type: ignore[arg-type]
        assert ms.count(kind="fact") == 0


def test_without_store_nothing_is_written_and_a_past_view_refuses_to_store(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        ms.add("something to have a first LSN")
        reading = ms.read(two_hop_text(), QUESTION, memory_tokens=64)
        assert reading.records == () and ms.count() == 1
        with ms.as_of(ms.lsn) as past:
            assert past.read("A sentence. Another one.").kept
            with pytest.raises(ReadOnly):
                past.read("A sentence.", store=True)
