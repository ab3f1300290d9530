"""LongMemEval knowledge updates: does the session holding the latest value rank above the one
holding the outdated value, with and without reflection?

    memoryspace bench knowledge-update --data longmemeval_s_dev.json.gz --out results/

Each ``knowledge-update`` question (abstentions left out) has two answer sessions: the older
states a value, the newer updates it. Its haystack is ingested as in ``bench longmemeval`` (one
memory per turn, sessions in date order, the session's date as time) by two modes:
``memoryspace`` (the baseline) and ``reflect`` (the same, then one ``reflect()`` of the
haystack, which closes memories a newer one superseded; search then skips them). Sessions are
ranked by their best turn; a question counts as *latest first* when the newer answer session
ranks above the older one (or the older one is not ranked at all while the newer one is).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memoryspace.bench.locomo import Progress, warm_embeddings
from memoryspace.bench.longmemeval import haystack_records, rank_turns, session_of
from memoryspace.bench.metrics import first_occurrences
from memoryspace.bench.mode_factory import make_mode
from memoryspace.bench.modes import run_each
from memoryspace.datasets.longmemeval import Haystack, haystack_from_json, load_longmemeval
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput

MODES = ("memoryspace", "reflect")
QUESTION_TYPE = "knowledge-update"


def load_haystacks(path: str | Path) -> list[Haystack]:
    """LongMemEval haystacks from a ``.json`` or a gzipped ``.json.gz`` file.

    Raises:
        InvalidInput: the file cannot be read or is not LongMemEval.
    """
    if not str(path).endswith(".gz"):
        return load_longmemeval(path)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read LongMemEval JSON from {path}: {exc}") from None
    entries = data if isinstance(data, list) else [data]
    return [haystack_from_json(entry, n) for n, entry in enumerate(entries, 1)]


def updates(haystacks: Sequence[Haystack]) -> list[tuple[Haystack, str, str, str]]:
    """``(haystack, question, newer session, older session)`` for each knowledge update."""
    out = []
    for haystack in haystacks:
        dates = {s.id: s.timestamp or 0.0 for s in haystack.sessions}
        for question in haystack.questions:
            if question.type != QUESTION_TYPE or question.id.endswith("_abs"):
                continue
            answers = sorted(
                (s for s in question.answer_session_ids if s in dates), key=lambda s: dates[s]
            )
            if len(answers) >= 2:
                out.append((haystack, question.question, answers[-1], answers[0]))
    return out


def run(
    haystacks: Sequence[Haystack],
    *,
    embedder: Embedder,
    k: int = 5,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Both modes over every knowledge-update question; the result document."""
    asked = updates(haystacks)
    used = list({h.id: h for h, *_ in asked}.values())
    records = {h.id: haystack_records(h) for h in used}
    warm_embeddings(
        embedder,
        [str(r["content"]) for rs in records.values() for r in rs] + [q for _, q, _, _ in asked],
    )

    def measure(mode: Any) -> dict[str, Any]:
        latest_first = newer_in_top = 0
        rows = []
        started = time.perf_counter()
        for done, (haystack, question, newer, older) in enumerate(asked, 1):
            mode.ingest(records[haystack.id])
            ranked = rank_turns(
                mode, question, scope=haystack.id, turns=len(records[haystack.id]), sessions=k
            )
            sessions = first_occurrences(session_of(ref) for ref in ranked)
            rank = {s: n for n, s in enumerate(sessions, 1)}
            new_rank, old_rank = rank.get(newer), rank.get(older)
            first = new_rank is not None and (old_rank is None or new_rank < old_rank)
            latest_first += first
            newer_in_top += new_rank is not None and new_rank <= k
            rows.append({"question": question, "newer_rank": new_rank, "older_rank": old_rank})
            if progress:
                progress(mode.name, done, len(asked))
        out: dict[str, Any] = {
            "latest_first": latest_first,
            "questions": len(asked),
            f"newer_in_top{k}": newer_in_top,
            "seconds": round(time.perf_counter() - started, 1),
            "ranks": rows,
        }
        closed = getattr(mode, "closed", None)
        if closed is not None:
            out["closing_groups"] = closed
        return out

    results = run_each(
        MODES,
        lambda name: make_mode(name, ref_key="ref", embedder=embedder, capacity=1),
        measure,
    )
    return {
        "dataset": "longmemeval",
        "question_type": QUESTION_TYPE,
        "questions": len(asked),
        "embedder": embedder.model_id,
        "k": k,
        "modes": results,
    }


def table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per mode: latest-first count of N, newer session in the top k."""
    k = doc["k"]
    rows = []
    for mode, result in doc["modes"].items():
        if "unavailable" in result:
            rows.append({"mode": mode, "status": f"unavailable: {result['unavailable']}"})
            continue
        rows.append(
            {
                "mode": mode,
                "latest_first": f"{result['latest_first']} of {result['questions']}",
                f"newer_in_top{k}": f"{result[f'newer_in_top{k}']} of {result['questions']}",
                "closing_groups": result.get("closing_groups", "-"),
                "seconds": result["seconds"],
            }
        )
    return rows


def csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per mode and question: the two answer sessions' ranks."""
    return [
        {"mode": mode, **row}
        for mode, result in doc["modes"].items()
        for row in result.get("ranks", [])
    ]
