"""assemble_context: budget, regions, source ids, formats and prefix stability."""

from __future__ import annotations

from typing import Any

import pytest

from memoryspace.context import (
    ContextWindow,
    Region,
    TiktokenCounter,
    assemble_context,
    cached_prefix_tokens,
    prefix_stability,
    render_memory,
    text_prefix_stability,
)
from memoryspace.errors import InvalidInput
from memoryspace.models import Kind, Memory, ScoreParts, SearchHit
from memoryspace.tokens import estimate_tokens

WORDS = ("memory", "heap", "budget", "prefix", "cache")
WORDS += ("token", "window", "region", "stable", "volatile")


@pytest.fixture(scope="module")
def counter() -> TiktokenCounter:
    pytest.importorskip("tiktoken")
    return TiktokenCounter()


def mem(ref: str, words: int = 12, kind: Kind = Kind.TURN, **fields: Any) -> Memory:
    text = " ".join(WORDS[(len(ref) + i) % len(WORDS)] for i in range(words))
    return Memory(id=ref, content=f"{ref}: {text} 1234567", kind=kind, created_at=1.7e9, **fields)


def hits(*memories: Memory) -> list[SearchHit]:
    return [SearchHit(m, 1.0 / rank, ScoreParts(1.0 / rank)) for rank, m in enumerate(memories, 1)]


def test_budget_is_respected_with_a_real_tokenizer(counter: TiktokenCounter) -> None:
    many = [mem(f"t{i}", words=5 + i % 17) for i in range(60)]
    context = assemble_context(hits(*many), budget=300, counter=counter)
    assert context.dropped  # 60 records do not fit in 300 tokens
    assert context.tokens == counter(context.text) <= 300
    assert sum(block.tokens for block in context.blocks) <= 300
    assert set(context.source_ids) | set(context.dropped) == {m.id for m in many}
    assert [block.tokens for block in context.blocks] == [
        counter(block.text) for block in context.blocks
    ]


def test_regions_put_pinned_and_stable_before_volatile(counter: TiktokenCounter) -> None:
    persona = mem("persona", kind=Kind.PERSONA)
    fact = mem("fact", kind=Kind.FACT)
    turns = [mem("t1"), mem("t2")]
    context = assemble_context(
        hits(turns[0], fact, turns[1]), budget=500, counter=counter, pinned=[persona]
    )
    assert [b.source_ids for b in context.blocks] == [("persona",), ("fact",), ("t1",), ("t2",)]
    assert [b.region for b in context.blocks] == [
        Region.PINNED,
        Region.STABLE,
        Region.VOLATILE,
        Region.VOLATILE,
    ]


def test_blocks_carry_their_source_ids_and_text(counter: TiktokenCounter) -> None:
    records = [mem("a"), mem("b", kind=Kind.SUMMARY)]
    context = assemble_context(hits(*records), budget=500, counter=counter)
    by_id = {block.source_ids: block for block in context.blocks}
    assert by_id[("a",)].text == render_memory(records[0])
    assert by_id[("b",)].text.startswith("[2023-11-14 summary] b: ")
    assert context.text == "".join(render_memory(m) for m in reversed(records))


def test_pinned_records_among_the_hits_appear_once(counter: TiktokenCounter) -> None:
    pin = mem("pin", pinned=True)
    context = assemble_context(hits(mem("a"), pin), budget=500, counter=counter, pinned=[pin])
    assert context.source_ids == ["pin", "a"]


def test_messages_format(counter: TiktokenCounter) -> None:
    context = assemble_context(
        hits(mem("t1"), mem("f", kind=Kind.FACT)),
        budget=500,
        counter=counter,
        pinned=[mem("p", pinned=True)],
        format="messages",
    )
    assert context.prompt == context.messages
    assert [m["role"] for m in context.messages] == ["system"] * 3
    assert "".join(m["content"] for m in context.messages) == context.text
    assert context.tokens == sum(counter(m["content"]) for m in context.messages)
    document = context.to_dict()
    assert document["blocks"][0]["source_ids"] == ["p"] and document["format"] == "messages"


def test_an_unchanged_context_is_fully_stable(counter: TiktokenCounter) -> None:
    window = ContextWindow(500)
    records = [mem(f"t{i}") for i in range(6)]
    first = assemble_context(hits(*records), budget=500, counter=counter, window=window)
    # the same records ranked differently: the window keeps them where they were
    again = assemble_context(hits(*reversed(records)), budget=500, counter=counter, window=window)
    assert again.text == first.text
    assert prefix_stability(counter.encode(first.text), counter.encode(again.text)) == 1.0
    assert text_prefix_stability(first.text, again.text, counter) == 1.0


def test_a_new_volatile_hit_keeps_the_prefix(counter: TiktokenCounter) -> None:
    window = ContextWindow(500)
    records = [mem(f"t{i}") for i in range(6)]
    first = assemble_context(hits(*records), budget=500, counter=counter, window=window)
    later = assemble_context(hits(mem("new"), *records), budget=500, counter=counter, window=window)
    assert later.text.startswith(first.text)
    assert text_prefix_stability(first.text, later.text, counter) > 0.8
    fresh = assemble_context(hits(mem("new"), *records), budget=500, counter=counter)
    assert text_prefix_stability(first.text, fresh.text, counter) < 0.05  # rank order


def test_a_change_at_the_start_drops_stability(counter: TiktokenCounter) -> None:
    window = ContextWindow(500)
    records = [mem(f"t{i}") for i in range(6)]
    first = assemble_context(hits(*records), budget=500, counter=counter, window=window)
    pinned = [mem("persona", kind=Kind.PERSONA)]
    later = assemble_context(
        hits(*records), budget=500, counter=counter, window=window, pinned=pinned
    )
    assert later.blocks[0].source_ids == ("persona",)
    assert text_prefix_stability(first.text, later.text, counter) < 0.05


def test_prefix_stability_on_token_ids() -> None:
    assert prefix_stability([1, 2, 3], [1, 2, 4, 5]) == 0.5
    assert prefix_stability([1, 2, 3], [1, 2, 3]) == 1.0
    assert prefix_stability([], [7, 8]) == 0.0
    assert prefix_stability([1], []) == 1.0
    assert cached_prefix_tokens(list(range(40)), [*range(35), 0], block_size=16) == 32
    assert prefix_stability(list(range(40)), list(range(20)) + [0] * 12, block_size=16) == 0.5
    with pytest.raises(InvalidInput):
        prefix_stability([1], [1], block_size=0)


def test_text_stability_without_an_encoder_compares_characters() -> None:
    assert text_prefix_stability("abcd", "abxy", estimate_tokens) == 0.5
    assert text_prefix_stability("abcd", "abcd") == 1.0


def test_bad_arguments(counter: TiktokenCounter) -> None:
    with pytest.raises(InvalidInput, match="budget"):
        assemble_context([], budget=0, counter=counter)
    with pytest.raises(InvalidInput, match="format"):
        assemble_context([], budget=10, counter=counter, format="html")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="same budget"):
        assemble_context([], budget=10, counter=counter, window=ContextWindow(20))
    empty = assemble_context([], budget=10, counter=counter)
    assert (empty.text, empty.tokens, empty.messages) == ("", 0, [])
