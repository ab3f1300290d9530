"""Context-window replay on LoCoMo: how much of each prompt could a prefix cache reuse?

    memoryspace bench context --data locomo_dev6.json --conversation conv-26 --budget 2000

One conversation's turns are ingested (one memory per turn, as ``memoryspace import`` does),
then its questions are asked in order: each retrieves ``k`` turns (hybrid search) and
``assemble_context`` lays them out in ``budget`` tokens. Prompts are compared turn to turn:

* ``stability``: the share of a prompt's tokens (cl100k) equal to the previous prompt's prefix;
  ``stability@16`` rounds the shared prefix down to 16-token blocks, as vLLM caches;
* ``overlap_ceiling``: the share of a turn's hit tokens also retrieved the turn before — the
  best stability a layout holding only the turn's hits could reach;
* ``uncached``: the prompt's tokens after that shared prefix (what the server recomputes);
* ``prompt``: mean prompt tokens (``retain`` keeps records no longer wanted, so it grows);
* ``fragmentation``: free tokens in blocks smaller than the median record, over the budget, after
  each update; ``compactions`` (``forced``: no hole and no tail space fitted), hole fills, appends.

Layouts: ``rank`` renders each turn's hits in rank order in a fresh window (what a stateless
retriever does); ``flat`` keeps one window across turns with a single region; ``regions`` keeps
one window with stable-first regions — turns older than ``young_days`` before the newest one are
the old generation (``stable``), the rest ``volatile``. ``flat`` and ``regions`` run with every
allocator, with ``retain`` 0 (free what is no longer wanted) and more (keep it that many
turns while the budget allows). Every layout sees the same hits, retrieved once.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memoryspace.context import (
    ALLOCATORS,
    ContextWindow,
    Region,
    TiktokenCounter,
    assemble_context,
    cached_prefix_tokens,
    region_by_age,
    render_memory,
)
from memoryspace.context.regions import RegionClassifier
from memoryspace.datasets.locomo import (
    Conversation,
    load_locomo,
    locomo_records,
    select_conversations,
)
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput
from memoryspace.models import Memory, SearchHit
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace
from memoryspace.tokens import TokenCounter

LAYOUTS = ("rank", "flat", "regions")
Progress = Callable[[str, int, int], None]  # (what, done, total)
_DAY = 86_400.0


def load_conversation(path: str | Path, conversation: str | None = None) -> Conversation:
    """The conversation ``conversation`` of a LoCoMo file (the first one when ``None``).

    Raises:
        InvalidInput: the file is not LoCoMo, or has no such conversation.
    """
    conversations = load_locomo(path)
    if not conversations:
        raise InvalidInput(f"{path} holds no conversation")
    return select_conversations(conversations, [conversation] if conversation else None)[0]


@dataclass
class _Tally:
    stability: list[float] = field(default_factory=list)
    block_stability: list[float] = field(default_factory=list)
    uncached: list[int] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    fragmentation: list[float] = field(default_factory=list)
    dropped: int = 0


def _flat(memory: Memory) -> Region:
    return Region.VOLATILE


def replay(
    hit_lists: Sequence[Sequence[SearchHit]],
    *,
    budget: int,
    counter: TiktokenCounter,
    window: ContextWindow | None,
    classify: RegionClassifier = _flat,
    block_size: int = 16,
) -> dict[str, Any]:
    """Assemble a context for each hit list in turn; stability and heap numbers (one row).

    ``window=None`` assembles each turn in a fresh window classified by ``classify``.

    Raises:
        BackendUnavailable: ``counter`` has no exact tokenizer to compare prompts with.
    """
    tally = _Tally()
    previous: list[int] | None = None
    for hits in hit_lists:
        fresh = window is None
        current = window if window is not None else ContextWindow(budget, classify=classify)
        context = assemble_context(hits, budget=budget, counter=counter, window=current)
        tokens = counter.encode(context.text)
        if previous is not None:
            shared = cached_prefix_tokens(previous, tokens)
            blocks = cached_prefix_tokens(previous, tokens, block_size=block_size)
            size = max(1, len(tokens))
            tally.stability.append(shared / size)
            tally.block_stability.append(blocks / size)
            tally.uncached.append(len(tokens) - shared)
        previous = tokens
        tally.prompt_tokens.append(len(tokens))
        tally.dropped += len(context.dropped)
        if not fresh:
            tally.fragmentation.append(context.fragmentation)
    stats = window.stats if window is not None else None
    return {
        "stability": _mean(tally.stability),
        f"stability@{block_size}": _mean(tally.block_stability),
        "uncached": _mean(tally.uncached),
        "prompt": _mean(tally.prompt_tokens),
        "fragmentation": _mean(tally.fragmentation) if tally.fragmentation else 0.0,
        "compactions": stats.compactions if stats else 0,
        "forced": stats.forced_compactions if stats else 0,
        "hole_fills": stats.hole_fills if stats else 0,
        "appends": stats.appends if stats else 0,
        "dropped": tally.dropped,
    }


def overlap_ceiling(hit_lists: Sequence[Sequence[SearchHit]], counter: TokenCounter) -> float:
    """The most stability any layout holding only each turn's hits could reach, on average.

    A turn can reuse at most the tokens of the hits it shares with the previous turn (had those
    been laid out first); this is their mean share of the turn's tokens.
    """
    sizes: dict[str, int] = {}
    shares = []
    for previous, current in itertools.pairwise(hit_lists):
        before = {hit.memory.id for hit in previous}
        for hit in current:
            if hit.memory.id not in sizes:
                sizes[hit.memory.id] = counter(render_memory(hit.memory))
        total = sum(sizes[hit.memory.id] for hit in current)
        shared = sum(sizes[hit.memory.id] for hit in current if hit.memory.id in before)
        shares.append(shared / total if total else 1.0)
    return _mean(shares)


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def run(
    conversation: Conversation,
    *,
    embedder: Embedder | str = "auto",
    budget: int = 2000,
    k: int = 20,
    allocators: Sequence[str] = tuple(ALLOCATORS),
    layouts: Sequence[str] = LAYOUTS,
    counter: TiktokenCounter | None = None,
    young_days: float = 30.0,
    retains: Sequence[int] = (0, 3),
    compact_threshold: float = 0.25,
    block_size: int = 16,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The replay of one conversation; a result document whose ``rows`` compare the layouts.

    Raises:
        InvalidInput: an unknown layout or allocator, or a budget or ``k`` below 1.
        BackendUnavailable: no exact tokenizer (install the ``tokens`` extra).
    """
    unknown = [name for name in layouts if name not in LAYOUTS]
    if unknown:
        raise InvalidInput(f"unknown layout(s) {unknown}; use: {', '.join(LAYOUTS)}")
    for name in allocators:
        ContextWindow(1, name)  # validates the name
    if k < 1 or budget < 1 or any(retain < 0 for retain in retains):
        raise InvalidInput("k and budget must be at least 1, retain at least 0")
    counter = counter or TiktokenCounter()
    count: TokenCounter = counter
    records = locomo_records(conversation)
    questions = [qa.question for qa in conversation.questions]
    with MemorySpace.open(
        ":memory:", embedder=embedder, settings=Settings(token_counter=count)
    ) as space:
        space.add_many(records)
        model_id = space.embedder.model_id
        hit_lists = []
        for done, question in enumerate(questions, 1):
            hit_lists.append(
                space.search(question, k=k, user=conversation.sample_id, min_score=0.0)
            )
            if progress and (done % 20 == 0 or done == len(questions)):
                progress("search", done, len(questions))
    newest = max((float(r["timestamp"]) for r in records), default=0.0)
    by_age = region_by_age(young_days * _DAY, lambda: newest)
    rows = []
    configs: list[tuple[str, str | None, int]] = [
        (layout, None, 0) for layout in layouts if layout == "rank"
    ]
    configs += [
        (layout, name, retain)
        for retain in retains
        for layout in layouts
        if layout != "rank"
        for name in allocators
    ]
    for done, (layout, allocator, retain) in enumerate(configs, 1):
        classify = by_age if layout == "regions" else _flat
        window = None
        if allocator is not None:
            window = ContextWindow(
                budget,
                allocator,
                classify=classify,
                compact_threshold=compact_threshold,
                retain=retain,
            )
        row = replay(
            hit_lists,
            budget=budget,
            counter=counter,
            window=window,
            classify=classify,
            block_size=block_size,
        )
        rows.append({"layout": layout, "allocator": allocator or "-", "retain": retain, **row})
        if progress:
            progress("replay", done, len(configs))
    return {
        "benchmark": "context",
        "conversation": conversation.sample_id,
        "turns": len(records),
        "questions": len(questions),
        "budget": budget,
        "k": k,
        "embedder": model_id,
        "tokenizer": f"{counter.encoding} ({counter.backend})",
        "young_days": young_days,
        "retains": list(retains),
        "overlap_ceiling": overlap_ceiling(hit_lists, count),
        "compact_threshold": compact_threshold,
        "rows": rows,
    }


def title(doc: dict[str, Any]) -> str:
    """A table title naming what the replay ran on."""
    return (
        f"Context replay: LoCoMo {doc['conversation']}, {doc['questions']} questions, "
        f"k={doc['k']}, budget {doc['budget']} tokens ({doc['tokenizer']}, {doc['embedder']}); "
        f"overlap ceiling {doc['overlap_ceiling']:.3f}"
    )
