"""HotpotQA supporting-fact benchmark: are a question's gold sentences in the top 5?

    memoryspace bench hotpot --data hotpot_dev_distractor.json --out bench-hotpot

Each question gets its own scope (``user = question id``) holding its context sentences, one
memory per sentence (the paragraph title and sentence index in ``meta``); all questions go into
one space in one ``add_many``. Then each question is asked in its scope. Per mode:

* ``sf_recall@5``: the share of gold supporting sentences in the top 5, averaged;
* ``all_sf_hit@5``: the share of questions whose gold sentences are all in the top 5.

The seed experiment reported all-supporting-fact hit@5 of 0.798 for its memory manager and
0.601 for a sliding window; the table prints them beside ours for reference only (another
system, and possibly another sample).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memoryspace.bench.locomo import Progress, warm_embeddings, write_bar_chart
from memoryspace.bench.metrics import all_found_at_k, evidence_recall_at_k, mean, percentile
from memoryspace.bench.mode_factory import make_mode
from memoryspace.bench.modes import RetrievalMode, run_each
from memoryspace.datasets.hotpot import HotpotQuestion, fact_ref
from memoryspace.embed.base import Embedder

DEFAULT_MODES = ("memoryspace", "recent", "bm25", "dense")
SEED_REFERENCE = {"memoryspace": ("seed manager", 0.798), "recent": ("seed sliding window", 0.601)}
K = 5


def hotpot_records(question: HotpotQuestion) -> list[dict[str, Any]]:
    """One memory per non-empty context sentence, scoped to the question.

    Each sentence carries its paragraph's title in its text, as a document chunk carries its
    document's title: many sentences only say "It" or "He" for the subject the title names.
    Every mode ingests the same records.
    """
    return [
        {
            "content": f"{paragraph.title}: {sentence.strip()}",
            "user": question.id,
            "meta": {"ref": fact_ref(paragraph.title, n), "title": paragraph.title, "sent_id": n},
        }
        for paragraph in question.paragraphs
        for n, sentence in enumerate(paragraph.sentences)
        if sentence.strip()
    ]


def run(
    questions: Sequence[HotpotQuestion],
    *,
    modes: Sequence[str] = DEFAULT_MODES,
    embedder: Embedder,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every mode over every question; the result document (see ``memoryspace bench hotpot``)."""
    records: list[dict[str, Any]] = []
    gold: dict[str, list[str]] = {}
    unresolved = 0
    for question in questions:
        batch = hotpot_records(question)
        records.extend(batch)
        stored = {str(r["meta"]["ref"]) for r in batch}
        refs = list(dict.fromkeys(fact_ref(t, n) for t, n in question.supporting_facts))
        gold[question.id] = [r for r in refs if r in stored]
        unresolved += len(refs) - len(gold[question.id])
    warm_embeddings(
        embedder, [str(r["content"]) for r in records] + [q.question for q in questions]
    )
    results = run_each(
        modes,
        lambda name: make_mode(name, ref_key="ref", embedder=embedder, capacity=K),
        lambda mode: _run_mode(mode, questions, records, gold, progress),
    )
    return {
        "dataset": "hotpot",
        "questions": len(questions),
        "embedder": embedder.model_id,
        "unresolved_facts": unresolved,
        "questions_without_facts": sum(1 for q in questions if not gold[q.id]),
        "modes": results,
    }


def _run_mode(
    mode: RetrievalMode,
    questions: Sequence[HotpotQuestion],
    records: list[dict[str, Any]],
    gold: dict[str, list[str]],
    progress: Progress | None,
) -> dict[str, Any]:
    mode.ingest(records)
    recalls: list[float] = []
    hits: list[float] = []
    latencies: list[float] = []
    for done, question in enumerate(questions, 1):
        started = time.perf_counter()
        ranked = mode.rank(question.question, K, scope=question.id)
        latencies.append((time.perf_counter() - started) * 1000)
        if progress and (done % 10 == 0 or done == len(questions)):
            progress(mode.name, done, len(questions))
        facts = gold[question.id]
        if facts:
            recalls.append(evidence_recall_at_k(ranked, facts, K))
            hits.append(1.0 if all_found_at_k(ranked, facts, K) else 0.0)
    recall, hit = mean(recalls), mean(hits)
    return {
        f"sf_recall@{K}": None if recall is None else round(recall, 4),
        f"all_sf_hit@{K}": None if hit is None else round(hit, 4),
        "query_ms_p50": round(percentile(latencies, 50), 3) if latencies else None,
    }


def table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for ``print_table``: our numbers, and the seed's beside them."""
    rows = []
    for mode, result in doc["modes"].items():
        seed = SEED_REFERENCE.get(mode)
        reference = f"{seed[1]:.3f} ({seed[0]})" if seed else "-"
        if "unavailable" in result:
            rows.append(
                {
                    "mode": mode,
                    f"sf_recall@{K}": "-",
                    f"all_sf_hit@{K}": "-",
                    "query ms p50": "-",
                    "seed all_sf_hit@5 (reference)": reference,
                    "status": f"unavailable: {result['unavailable']}",
                }
            )
            continue
        rows.append(
            {
                "mode": mode,
                f"sf_recall@{K}": _cell(result[f"sf_recall@{K}"]),
                f"all_sf_hit@{K}": _cell(result[f"all_sf_hit@{K}"]),
                "query ms p50": _cell(result["query_ms_p50"]),
                "seed all_sf_hit@5 (reference)": reference,
                "status": "ok",
            }
        )
    return rows


def _cell(value: Any) -> Any:
    return "-" if value is None else value


def write_outputs(doc: dict[str, Any], folder: Path) -> list[Path]:
    """``hotpot.csv`` and ``hotpot.png`` (both metrics per mode) in ``folder``."""
    from memoryspace.bench.report import write_csv

    rows = [
        {"mode": mode, "metric": metric, "value": value}
        for mode, result in doc["modes"].items()
        for metric, value in result.items()
    ]
    write_csv(folder / "hotpot.csv", rows)
    metrics = [f"sf_recall@{K}", f"all_sf_hit@{K}"]
    series = {
        mode: [result.get(m) for m in metrics]
        for mode, result in doc["modes"].items()
        if "unavailable" not in result
    }
    write_bar_chart(
        folder / "hotpot.png", f"HotpotQA supporting facts in the top {K}", metrics, series, "share"
    )
    return [folder / "hotpot.csv", folder / "hotpot.png"]
