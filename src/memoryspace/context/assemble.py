"""Assembling a prompt context from retrieved memories, within a token budget.

``assemble_context`` turns search hits (and pinned records) into text blocks laid out by a
``ContextWindow``: pinned and stable records first, volatile ones last, and — when the same window
is passed turn after turn — records that stay relevant keep their place, so the start of the
context renders byte-identically and an LLM server's prefix cache can reuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from memoryspace.context.regions import REGION_ORDER, Region
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.context.window import ContextWindow
from memoryspace.errors import InvalidInput
from memoryspace.models import Kind, Memory, SearchHit
from memoryspace.tokens import TokenCounter

ContextFormat = Literal["text", "messages"]
Renderer = Callable[[Memory], str]


def render_memory(memory: Memory) -> str:
    """One block per record: ``[2023-05-08] content`` (the kind named unless a turn), newline-ended.

    Deterministic — no scores, no access times — so an unchanged record renders identically.
    """
    label = [] if memory.kind is Kind.TURN else [str(memory.kind)]
    if memory.created_at > 0:
        label.insert(0, datetime.fromtimestamp(memory.created_at, UTC).strftime("%Y-%m-%d"))
    prefix = f"[{' '.join(label)}] " if label else ""
    return f"{prefix}{memory.content.strip()}\n"


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of the context: its text, the records it came from and its place in the window."""

    text: str
    source_ids: tuple[str, ...]
    tokens: int
    region: Region
    offset: int  # token offset of its slot in the window (holes included)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source_ids": list(self.source_ids),
            "tokens": self.tokens,
            "region": str(self.region),
            "offset": self.offset,
        }


@dataclass(frozen=True, slots=True)
class AssembledContext:
    """A context ready for a prompt: ``text``, or ``messages`` (one system message per region).

    ``tokens`` counts the whole ``text`` (``messages``: their contents) with the counter used;
    it never exceeds ``budget``. ``dropped`` are the wanted ids that did not fit.
    """

    blocks: tuple[Block, ...]
    tokens: int
    budget: int
    dropped: tuple[str, ...]
    format: ContextFormat = "text"
    fragmentation: float = 0.0

    @property
    def text(self) -> str:
        return "".join(block.text for block in self.blocks)

    @property
    def messages(self) -> list[dict[str, str]]:
        out = []
        for region in REGION_ORDER:
            content = "".join(block.text for block in self.blocks if block.region is region)
            if content:
                out.append({"role": "system", "content": content})
        return out

    @property
    def prompt(self) -> str | list[dict[str, str]]:
        """``text`` or ``messages``, as ``format`` asked."""
        return self.messages if self.format == "messages" else self.text

    @property
    def source_ids(self) -> list[str]:
        return [ref for block in self.blocks for ref in block.source_ids]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "text": self.text,
            "messages": self.messages,
            "blocks": [block.to_dict() for block in self.blocks],
            "tokens": self.tokens,
            "budget": self.budget,
            "dropped": list(self.dropped),
            "fragmentation": self.fragmentation,
        }


def assemble_context(
    hits: Sequence[SearchHit],
    *,
    budget: int,
    counter: TokenCounter | None = None,
    window: ContextWindow | None = None,
    pinned: Sequence[Memory] = (),
    format: ContextFormat = "text",
    render: Renderer = render_memory,
) -> AssembledContext:
    """Lay ``pinned`` records and then ``hits`` (best first) out in ``budget`` tokens.

    Each record becomes one block of ``render(record)`` text, sized by ``counter`` (default:
    ``default_token_counter()``). Pass the same ``window`` every turn to keep the layout stable;
    without one, a fresh window is used. Records that do not fit are listed in ``dropped``.

    Raises:
        InvalidInput: a budget below 1, an unknown format, or a window of another budget.
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise InvalidInput(f"budget must be a positive number of tokens, got {budget!r}")
    if format not in ("text", "messages"):
        raise InvalidInput(f"unknown context format {format!r}; use 'text' or 'messages'")
    if counter is None:
        counter = default_token_counter()
    if window is None:
        window = ContextWindow(budget)
    elif window.budget_tokens != budget:
        raise InvalidInput(
            f"the window holds {window.budget_tokens} tokens but budget is {budget}; "
            "make the window with the same budget"
        )
    rendered: dict[str, str] = {}
    count = counter

    def size(memory: Memory) -> int:
        rendered[memory.id] = render(memory)
        return max(1, count(rendered[memory.id]))

    wanted = [*pinned, *(hit.memory for hit in hits)]
    layout = window.update(wanted, size=size)
    dropped = list(layout.dropped)
    blocks = [
        Block(
            rendered.get(slot.memory.id) or render(slot.memory),
            (slot.memory.id,),
            slot.size,
            slot.region,
            slot.offset,
        )
        for slot in layout.slots
        if slot.memory is not None
    ]
    context = AssembledContext(tuple(blocks), 0, budget, (), format)
    tokens = _count(context, count)
    # Tokenizing the joined text can differ from the sum of the parts at block boundaries (and a
    # window may hold blocks sized by another counter): trim from the volatile end until it fits.
    while tokens > budget and blocks:
        last = blocks.pop()
        window.free(last.source_ids[0])
        dropped.append(last.source_ids[0])
        context = AssembledContext(tuple(blocks), 0, budget, (), format)
        tokens = _count(context, count)
    return AssembledContext(
        tuple(blocks), tokens, budget, tuple(dropped), format, window.fragmentation()
    )


def _count(context: AssembledContext, counter: TokenCounter) -> int:
    if not context.blocks:
        return 0
    if context.format == "messages":
        return sum(counter(message["content"]) for message in context.messages)
    return counter(context.text)
