"""Prompt budgets on LoCoMo: is the evidence of a question inside the prompt of ``B`` tokens?

    memoryspace bench prompt-budget --data ../shared/data/locomo/locomo_dev6.json \\
        [--budgets 120,250,500] [--conversation conv-26] [--embedder auto] [--json] [--out DIR]

For every LoCoMo question with resolvable evidence, and every budget ``B``, two prompts are
built from the same dialogue:

* ``conversation``: ``Conversation.prompt(question, budget=B)`` of a MemoryOS-style conversation
  fed the dialogue as ``add_turn`` pairs (as ``bench locomo --modes memoryos`` does), with the
  offline processors, so long-term memory holds the user's facts and profile;
* ``context``: ``MemorySpace.context(question, budget=B)`` over the turns stored one record each
  (as ``bench locomo --modes memoryspace``), with the default ``min_score``.

A question counts as ``any`` when at least one of its evidence turns is a source of the prompt
(a page's turns, or the turn record), ``all`` when every one is. ``profile_tokens`` is the mean
number of prompt tokens spent on the profile and facts (the conversation only). Both prompts
share the embedder and the token counter.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from memoryspace.bench.memoryos_mode import MemoryOSMode
from memoryspace.bench.modes import MemorySpaceMode
from memoryspace.conversation.pages import page_dia_ids
from memoryspace.datasets.locomo import Conversation, locomo_records, resolve_evidence
from memoryspace.embed.base import Embedder
from memoryspace.models import Kind, Memory

Progress = Callable[[str, int, int], None]
METHODS = ("conversation", "context")
LABELS = {"conversation": "conversation().prompt(budget)", "context": "context(budget)"}


def _refs(memories: Sequence[Memory]) -> set[str]:
    """The dialogue turns a prompt's records stand for."""
    out: set[str] = set()
    for memory in memories:
        if memory.kind is Kind.TURN:
            out.update(page_dia_ids(memory))
            if "dia_id" in memory.meta:
                out.add(str(memory.meta["dia_id"]))
    return out


def run(
    conversations: Sequence[Conversation],
    *,
    budgets: Sequence[int] = (120, 250, 500),
    embedder: Embedder,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The evidence-in-prompt shares of both methods at every budget (see the module doc)."""
    flat = MemorySpaceMode("dia_id", embedder)
    talk = MemoryOSMode("dia_id", embedder)
    counts = {(m, b, w): 0 for m in METHODS for b in budgets for w in ("any", "all")}
    profile_tokens = dict.fromkeys(budgets, 0)
    asked = [
        (c, qa, evidence)
        for c in conversations
        for qa in c.questions
        for evidence in [resolve_evidence(c, qa)[0]]
        if evidence
    ]
    started = time.perf_counter()
    try:
        for number, conversation in enumerate(conversations, 1):
            records = locomo_records(conversation)
            flat.ingest(records)
            talk.ingest(records)
            if progress:
                progress("ingest", number, len(conversations))
        for number, (conversation, qa, evidence) in enumerate(asked, 1):
            scope = conversation.sample_id
            wanted = set(evidence)
            chat = talk.conversations[scope]
            for budget in budgets:
                prompt = chat.prompt(qa.question, budget)
                memories = talk.space.get_many(prompt.source_ids)
                profile_tokens[budget] += sum(
                    block.tokens
                    for block, memory in zip(prompt.blocks, memories, strict=False)
                    if memory.kind in (Kind.FACT, Kind.PERSONA)
                )
                context = flat.space.context(qa.question, budget=budget, user=scope)
                for method, found in (
                    ("conversation", _refs(memories)),
                    ("context", _refs(flat.space.get_many(context.source_ids))),
                ):
                    counts[(method, budget, "any")] += bool(wanted & found)
                    counts[(method, budget, "all")] += wanted <= found
            if progress and (number % 20 == 0 or number == len(asked)):
                progress("questions", number, len(asked))
    finally:
        flat.close()
        talk.close()
    total = max(1, len(asked))
    rows = [
        {
            "budget": budget,
            "method": method,
            "evidence_any": round(counts[(method, budget, "any")] / total, 4),
            "evidence_all": round(counts[(method, budget, "all")] / total, 4),
            "profile_tokens": (
                round(profile_tokens[budget] / total, 1) if method == "conversation" else None
            ),
        }
        for budget in budgets
        for method in METHODS
    ]
    return {
        "dataset": "locomo",
        "conversations": [c.sample_id for c in conversations],
        "questions": len(asked),
        "embedder": embedder.model_id,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }


def write_outputs(doc: dict[str, Any], folder: Path) -> list[Path]:
    """``prompt_budget.csv`` and a bar chart ``prompt_budget.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "prompt_budget.csv"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(doc["rows"][0]))
        writer.writeheader()
        writer.writerows(doc["rows"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = sorted({row["budget"] for row in doc["rows"]})
    figure, axes = plt.subplots(figsize=(6, 3.5))
    width = 0.38
    for offset, method in enumerate(METHODS):
        shares = [
            next(
                r["evidence_any"] for r in doc["rows"] if r["budget"] == b and r["method"] == method
            )
            for b in budgets
        ]
        xs = [i + (offset - 0.5) * width for i in range(len(budgets))]
        axes.bar(xs, shares, width, label=LABELS[method])
    axes.set_xticks(range(len(budgets)), [f"{b} tokens" for b in budgets])
    axes.set_ylabel("share with an evidence turn in the prompt")
    axes.set_ylim(0, 1)
    axes.set_title(f"LoCoMo ({doc['questions']} questions, {doc['embedder']})")
    axes.legend()
    figure.tight_layout()
    plot = folder / "prompt_budget.png"
    figure.savefig(plot, dpi=120)
    plt.close(figure)
    return [table, plot]
