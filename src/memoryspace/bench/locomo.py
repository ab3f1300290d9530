"""LoCoMo retrieval benchmark: is the evidence of each question among what a mode retrieves?

    memoryspace bench locomo --data locomo10.json --out bench-locomo

Each conversation is one scope (``user = sample_id``), ingested in time order, one memory per
dialogue turn (``memoryspace.datasets.locomo.locomo_records``: speaker, text with the image
caption, the session's date as timestamp). QA, observations and summaries are never ingested.
Every question is then asked of every mode. Per category (1 multi-hop, 2 temporal,
3 open-domain, 4 single-hop, 5 adversarial, and all of 1–4 pooled):

* ``recall@k``: ``|top-k turns ∩ evidence| / |evidence|``, averaged over questions;
* ``recall@budgetB``: the retrieved turns are taken in rank order while they fit in ``B``
  tokens (``Memory.tokens``); the share of evidence among them;
* ``mrr``: reciprocal rank of the first evidence turn, 0 when none is retrieved.

Each mode ranks ``depth`` turns per question, enough for the largest ``k`` and budget. Questions
whose evidence names no turn are skipped (and counted). Texts are embedded (or found in the
embedding cache) before the clock starts, so ingest rates and query latencies measure the modes,
not MiniLM inference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memoryspace.bench.metrics import (
    ALL_1_4,
    evidence_recall_at_k,
    mean_by_category,
    percentile,
    recall_at_budget,
    reciprocal_rank,
)
from memoryspace.bench.mode_factory import make_mode
from memoryspace.bench.modes import RetrievalMode, run_each
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.datasets.locomo import (
    CATEGORY_NAMES,
    Conversation,
    locomo_records,
    resolve_evidence,
)
from memoryspace.embed.base import Embedder
from memoryspace.tokens import TokenCounter

CATEGORIES = (1, 2, 3, 4, 5)
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class ModeScores:
    """What one mode scored on one data set, before averaging."""

    by_metric: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    ingested: int = 0
    ingest_s: float = 0.0

    def add(self, metric: str, category: int, value: float) -> None:
        self.by_metric.setdefault(metric, []).append((category, value))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            metric: _rounded(mean_by_category(values, CATEGORIES))
            for metric, values in self.by_metric.items()
        }
        out["ingest_turns_per_s"] = (
            round(self.ingested / self.ingest_s, 1) if self.ingest_s else None
        )
        out["query_ms_p50"] = (
            round(percentile(self.latencies_ms, 50), 3) if self.latencies_ms else None
        )
        out["query_ms_p95"] = (
            round(percentile(self.latencies_ms, 95), 3) if self.latencies_ms else None
        )
        return out


def _rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 4) for k, v in values.items()}


def turns_needed(token_counts: Sequence[int], budget: int) -> int:
    """How many ranked turns are enough to fill ``budget`` tokens, whatever the ranking.

    The smallest ``n`` whose ``n`` shortest turns already exceed the budget (all turns if even
    every turn fits).
    """
    used = 0
    for n, tokens in enumerate(sorted(token_counts), 1):
        used += tokens
        if used > budget:
            return n
    return len(token_counts)


def warm_embeddings(embedder: Embedder, texts: Sequence[str], batch: int = 256) -> float:
    """Embed ``texts`` once so a caching embedder answers from its cache later; seconds taken."""
    started = time.perf_counter()
    unique = list(dict.fromkeys(texts))
    for at in range(0, len(unique), batch):
        embedder.embed(unique[at : at + batch])
    return time.perf_counter() - started


def run(
    conversations: Sequence[Conversation],
    *,
    modes: Sequence[str],
    ks: Sequence[int] = (5, 10),
    budgets: Sequence[int] = (1000, 2000),
    embedder: Embedder,
    token_counter: TokenCounter | None = None,
    progress: Progress | None = None,
    db: str = ":memory:",
) -> dict[str, Any]:
    """Every mode over every question; the result document (see ``memoryspace bench locomo``).
    ``db`` is the (empty) database the ``memoryspace`` mode uses (in memory by default)."""
    records = {c.sample_id: locomo_records(c) for c in conversations}
    token_counter = token_counter or default_token_counter()
    tokens = {
        c.sample_id: {
            str(r["meta"]["dia_id"]): token_counter(str(r["content"])) for r in records[c.sample_id]
        }
        for c in conversations
    }
    depth = max(
        [*ks, 1, *(turns_needed(list(tokens[s].values()), max(budgets, default=0)) for s in tokens)]
    )
    asked = [(c, qa, *resolve_evidence(c, qa)) for c in conversations for qa in c.questions]
    warm_embeddings(
        embedder,
        [str(r["content"]) for rs in records.values() for r in rs]
        + [qa.question for _, qa, _, _ in asked],
    )
    results = run_each(
        modes,
        lambda name: make_mode(name, ref_key="dia_id", embedder=embedder, capacity=depth, db=db),
        lambda mode: _with_llm_calls(
            mode,
            _run_mode(
                mode, conversations, records, tokens, asked, ks, budgets, depth, progress
            ).summary(),
        ),
    )
    return {
        "dataset": "locomo",
        "questions": len(asked),
        "conversations": [c.sample_id for c in conversations],
        "embedder": embedder.model_id,
        "unresolved_evidence": sum(len(missing) for *_, missing in asked),
        "questions_without_evidence": sum(1 for _, _, found, _ in asked if not found),
        "modes": results,
    }


def _with_llm_calls(mode: RetrievalMode, summary: dict[str, Any]) -> dict[str, Any]:
    """Add ``llm_calls_per_turn`` for modes that count their LLM calls (``memoryos``,
    ``notes``)."""
    calls = getattr(mode, "llm_calls_per_turn", None)
    return summary if calls is None else {**summary, "llm_calls_per_turn": calls}


def _run_mode(
    mode: RetrievalMode,
    conversations: Sequence[Conversation],
    records: dict[str, list[dict[str, Any]]],
    tokens: dict[str, dict[str, int]],
    asked: list[tuple[Conversation, Any, list[str], list[str]]],
    ks: Sequence[int],
    budgets: Sequence[int],
    depth: int,
    progress: Progress | None,
) -> ModeScores:
    scores = ModeScores()
    total = sum(len(r) for r in records.values()) + len(asked)
    done = 0
    for conversation in conversations:
        batch = records[conversation.sample_id]
        mode.prepare(batch)
        started = time.perf_counter()
        mode.ingest(batch)
        scores.ingest_s += time.perf_counter() - started
        scores.ingested += len(batch)
        done += len(batch)
        if progress:
            progress(mode.name, done, total)
    for conversation, qa, evidence, _ in asked:
        started = time.perf_counter()
        ranked = mode.rank(qa.question, depth, scope=conversation.sample_id)
        scores.latencies_ms.append((time.perf_counter() - started) * 1000)
        done += 1
        if progress and (done % 20 == 0 or done == total):
            progress(mode.name, done, total)
        if not evidence:
            continue
        for k in ks:
            scores.add(f"recall@{k}", qa.category, evidence_recall_at_k(ranked, evidence, k))
        for budget in budgets:
            scores.add(
                f"recall@budget{budget}",
                qa.category,
                recall_at_budget(ranked, tokens[conversation.sample_id], evidence, budget),
            )
        scores.add("mrr", qa.category, reciprocal_rank(ranked, evidence))
    return scores


# -- reporting


def category_label(key: str) -> str:
    """``"2"`` → ``"2 temporal"``; ``"all_1_4"`` → ``"all 1–4"``."""
    if key == ALL_1_4:
        return "all 1–4"
    return f"{key} {CATEGORY_NAMES.get(int(key), '?')}"


def quality_metrics(doc: dict[str, Any]) -> list[str]:
    """The per-category metric names of a result document, in their order of appearance."""
    names: list[str] = []
    for result in doc["modes"].values():
        for key, value in result.items():
            if isinstance(value, dict) and key not in names:
                names.append(key)
    return names


def tables(doc: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(title, rows)`` for each metric by category, then speed, for ``print_table``."""
    out = []
    for metric in quality_metrics(doc):
        rows = []
        for mode, result in doc["modes"].items():
            values = result.get(metric)
            if isinstance(values, dict):
                rows.append(
                    {"mode": mode, **{category_label(k): _cell(v) for k, v in values.items()}}
                )
        out.append((f"LoCoMo {metric} by category ({doc['questions']} questions)", rows))
    speed = []
    for mode, result in doc["modes"].items():
        if "unavailable" in result:
            speed.append(
                {
                    "mode": mode,
                    "ingest turns/s": "-",
                    "query ms p50": "-",
                    "query ms p95": "-",
                    "status": f"unavailable: {result['unavailable']}",
                }
            )
        else:
            speed.append(
                {
                    "mode": mode,
                    "ingest turns/s": _cell(result["ingest_turns_per_s"]),
                    "query ms p50": _cell(result["query_ms_p50"]),
                    "query ms p95": _cell(result["query_ms_p95"]),
                    "status": "ok",
                }
            )
    out.append(("Speed (embeddings cached before timing)", speed))
    return out


def _cell(value: Any) -> Any:
    return "-" if value is None else value


def csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (mode, metric, category) in long form, speed and status included."""
    rows: list[dict[str, Any]] = []
    for mode, result in doc["modes"].items():
        for metric, value in result.items():
            if isinstance(value, dict):
                rows.extend(
                    {"mode": mode, "metric": metric, "category": k, "value": v}
                    for k, v in value.items()
                )
            else:
                rows.append({"mode": mode, "metric": metric, "category": "", "value": value})
    return rows


def write_bar_chart(
    path: Path,
    title: str,
    groups: Sequence[str],
    series: dict[str, list[float | None]],
    ylabel: str,
) -> None:
    """A grouped bar chart (one bar per series in each group) as PNG, with matplotlib's Agg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.4 * len(groups) + 2), 4.5))
    width = 0.8 / max(1, len(series))
    for n, (name, values) in enumerate(series.items()):
        xs = [g + (n - (len(series) - 1) / 2) * width for g in range(len(groups))]
        axes.bar(xs, [0.0 if v is None else v for v in values], width, label=name)
    axes.set_xticks(range(len(groups)), groups)
    axes.set_ylabel(ylabel)
    axes.set_ylim(0, 1)
    axes.set_title(title)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_outputs(doc: dict[str, Any], folder: Path) -> list[Path]:
    """``locomo.csv`` and ``locomo_recall.png`` (recall@10, or the largest k) in ``folder``."""
    from memoryspace.bench.report import write_csv

    written = [folder / "locomo.csv"]
    write_csv(written[0], csv_rows(doc))
    recalls = [m for m in quality_metrics(doc) if m.startswith("recall@") and "budget" not in m]
    if recalls:
        chosen = "recall@10" if "recall@10" in recalls else max(recalls, key=lambda m: int(m[7:]))
        keys = [str(c) for c in CATEGORIES] + [ALL_1_4]
        series = {
            mode: [result[chosen].get(k) for k in keys]
            for mode, result in doc["modes"].items()
            if chosen in result
        }
        written.append(folder / "locomo_recall.png")
        write_bar_chart(
            written[1],
            f"LoCoMo evidence {chosen} by category",
            [category_label(k) for k in keys],
            series,
            chosen,
        )
    return written
