"""LongMemEval retrieval benchmark: are the answer turns and sessions among what a mode retrieves?

    memoryspace bench longmemeval --data longmemeval_s.json.gz --out bench-lme

Each haystack is one scope in a fresh mode (one in-memory space per haystack, so each search
runs at the scale of one user's history), ingested in time order, one memory per non-empty chat
turn (``role: content``, the session's date as timestamp, the session id as ``session``). Each
mode ranks ``TURN_DEPTH`` turns per question (more when fewer sessions than needed show up);
sessions are ranked by their best turn (first appearance). Per question type and overall:

* ``turn_recall@10`` and ``turn_recall@50``: the share of the question's ``has_answer`` turns
  among the top 10 (50) turns;
* ``session_any@k``: whether at least one answer session is among the top ``k`` sessions
  (what papers call session recall_any@k); ``session_all@k``: whether all of them are;
* ``session_ndcg@10``: NDCG of the top 10 sessions with the answer sessions as relevant (binary
  gain, ideal = every answer session first).

Abstention questions (ids ending ``_abs``) are scored in their own group, ``abstention``, and
left out of ``overall``: their "answer" sessions only mention the topic. Questions without a
``has_answer`` turn are left out of the turn metrics (counted). Texts are embedded (or found in
the embedding cache) before the clock starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from memoryspace.bench.locomo import Progress, warm_embeddings, write_bar_chart
from memoryspace.bench.metrics import evidence_recall_at_k, first_occurrences, mean, percentile
from memoryspace.bench.mode_factory import make_mode
from memoryspace.bench.modes import RetrievalMode
from memoryspace.datasets.longmemeval import Haystack, LMEQuestion
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput, ModeUnavailable

DEFAULT_MODES = ("memoryspace", "bm25", "dense")
TURN_KS = (10, 50)
NDCG_K = 10
TURN_DEPTH = 50
OVERALL = "overall"
ABSTENTION = "abstention"


def first_of_each_type(haystacks: Sequence[Haystack], limit: int) -> list[Haystack]:
    """The haystacks holding the first ``limit`` questions of each question type (abstention
    questions counted apart), in file order: a quick run that still covers every type.

    Raises:
        InvalidInput: ``limit < 1``.
    """
    if limit < 1:
        raise InvalidInput(f"--limit needs at least 1, got {limit}")
    taken: dict[tuple[str, bool], int] = {}
    chosen = []
    for haystack in haystacks:
        wanted = []
        for question in haystack.questions:
            key = (question.type, question.abstention)
            if taken.get(key, 0) < limit:
                taken[key] = taken.get(key, 0) + 1
                wanted.append(question)
        if wanted:
            chosen.append(replace(haystack, questions=tuple(wanted)))
    return chosen


def haystack_records(haystack: Haystack) -> list[dict[str, Any]]:
    """One memory per non-empty turn, sessions in date order, scoped to the haystack."""
    ordered = sorted(haystack.sessions, key=lambda s: s.timestamp or 0.0)
    return [
        {
            "content": f"{turn.role}: {turn.content.strip()}",
            "user": haystack.id,
            "session": session.id,
            "timestamp": session.timestamp,
            "meta": {"ref": f"{session.id}#{n}", "session_id": session.id},
        }
        for session in ordered
        for n, turn in enumerate(session.turns)
        if turn.content.strip()
    ]


def answer_turns(haystack: Haystack) -> list[str]:
    """Refs (``session#turn``) of the haystack's ``has_answer`` turns that hold text."""
    return [
        f"{session.id}#{n}"
        for session in haystack.sessions
        for n, turn in enumerate(session.turns)
        if turn.has_answer and turn.content.strip()
    ]


def session_of(ref: str) -> str:
    """``"s12#3"`` → ``"s12"``."""
    return ref.rsplit("#", 1)[0]


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-gain NDCG of the top ``k`` (each id counted once).

    Raises:
        InvalidInput: nothing relevant, or ``k < 1``.
    """
    if k < 1:
        raise InvalidInput(f"k must be at least 1, got {k}")
    gold = set(relevant)
    if not gold:
        raise InvalidInput("NDCG needs at least one relevant id")
    distinct = first_occurrences(ranked)[:k]
    dcg = sum(1.0 / math.log2(rank + 1) for rank, ref in enumerate(distinct, 1) if ref in gold)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def rank_turns(
    mode: RetrievalMode, question: str, *, scope: str, turns: int, sessions: int
) -> list[str]:
    """At least ``TURN_DEPTH`` ranked turn refs, deeper until ``sessions`` distinct sessions
    show up (or the scope runs out)."""
    depth = min(TURN_DEPTH, turns)
    while True:
        ranked = mode.rank(question, depth, scope=scope)
        found = len(first_occurrences(session_of(ref) for ref in ranked))
        if found >= sessions or depth >= turns or len(ranked) < depth:
            return ranked
        depth = min(2 * depth, turns)


@dataclass
class Scores:
    """One mode's per-question values by group (question type, overall, abstention)."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    ingested: int = 0
    ingest_s: float = 0.0
    llm_calls: int = 0
    counts_llm_calls: bool = False

    def add(self, metric: str, groups: Sequence[str], value: float) -> None:
        for group in groups:
            self.values.setdefault(metric, {}).setdefault(group, []).append(value)

    def summary(self, groups: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for metric, by_group in self.values.items():
            out[metric] = {g: _round(mean(by_group.get(g, []))) for g in groups}
        out["ingest_turns_per_s"] = (
            round(self.ingested / self.ingest_s, 1) if self.ingest_s else None
        )
        for q in (50, 95):
            out[f"query_ms_p{q}"] = (
                round(percentile(self.latencies_ms, q), 3) if self.latencies_ms else None
            )
        if self.counts_llm_calls:
            out["llm_calls"] = self.llm_calls
            out["llm_calls_per_turn"] = (
                round(self.llm_calls / self.ingested, 4) if self.ingested else 0.0
            )
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def groups_of(haystacks: Sequence[Haystack]) -> list[str]:
    """The result groups: question types (sorted), ``overall``, then ``abstention``."""
    types = sorted({q.type for h in haystacks for q in h.questions if not q.abstention})
    out = [*types, OVERALL]
    if any(q.abstention for h in haystacks for q in h.questions):
        out.append(ABSTENTION)
    return out


def run(
    haystacks: Sequence[Haystack],
    *,
    modes: Sequence[str] = DEFAULT_MODES,
    ks: Sequence[int] = (5,),
    embedder: Embedder,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every mode over every question, a fresh mode per haystack; the result document."""
    records = {h.id: haystack_records(h) for h in haystacks}
    for done, haystack in enumerate(haystacks, 1):
        warm_embeddings(
            embedder,
            [str(r["content"]) for r in records[haystack.id]]
            + [q.question for q in haystack.questions],
        )
        if progress:
            progress("embedding", done, len(haystacks))
    groups = groups_of(haystacks)
    results: dict[str, dict[str, Any]] = {}
    for name in modes:
        try:
            scores = _run_mode(name, haystacks, records, ks, embedder, progress)
        except ModeUnavailable as exc:
            results[name] = {"unavailable": str(exc)}
            continue
        results[name] = scores.summary(groups)
    asked = [q for h in haystacks for q in h.questions]
    return {
        "dataset": "longmemeval",
        "questions": len(asked),
        "haystacks": len(haystacks),
        "abstention_questions": sum(q.abstention for q in asked),
        "questions_without_answer_turns": sum(
            1 for h in haystacks if not answer_turns(h) for _ in h.questions
        ),
        "embedder": embedder.model_id,
        "groups": groups,
        "modes": results,
    }


def _run_mode(
    name: str,
    haystacks: Sequence[Haystack],
    records: dict[str, list[dict[str, Any]]],
    ks: Sequence[int],
    embedder: Embedder,
    progress: Progress | None,
) -> Scores:
    scores = Scores()
    total = sum(len(h.questions) for h in haystacks)
    done = 0
    for haystack in haystacks:
        batch = records[haystack.id]
        mode = make_mode(name, ref_key="ref", embedder=embedder, capacity=max(1, len(batch)))
        try:
            mode.prepare(batch)
            started = time.perf_counter()
            mode.ingest(batch)
            scores.ingest_s += time.perf_counter() - started
            scores.ingested += len(batch)
            gold_turns = answer_turns(haystack)
            known = {str(r["meta"]["session_id"]) for r in batch}
            for question in haystack.questions:
                _score_question(mode, scores, haystack, question, batch, known, gold_turns, ks)
                done += 1
                if progress:
                    progress(name, done, total)
            calls = getattr(mode, "llm_calls_per_turn", None)
            if calls is not None:
                scores.llm_calls += round(calls * len(batch))
                scores.counts_llm_calls = True
        finally:
            mode.close()
    return scores


def _score_question(
    mode: RetrievalMode,
    scores: Scores,
    haystack: Haystack,
    question: LMEQuestion,
    batch: Sequence[dict[str, Any]],
    known: set[str],
    gold_turns: Sequence[str],
    ks: Sequence[int],
) -> None:
    started = time.perf_counter()
    ranked = rank_turns(
        mode,
        question.question,
        scope=haystack.id,
        turns=len(batch),
        sessions=max(*ks, NDCG_K),
    )
    scores.latencies_ms.append((time.perf_counter() - started) * 1000)
    groups = [ABSTENTION] if question.abstention else [question.type, OVERALL]
    sessions = first_occurrences(session_of(ref) for ref in ranked)
    gold_sessions = [s for s in question.answer_session_ids if s in known]
    if gold_sessions:
        for k in ks:
            found = evidence_recall_at_k(sessions, gold_sessions, k)
            scores.add(f"session_any@{k}", groups, float(found > 0))
            scores.add(f"session_all@{k}", groups, float(found == 1.0))
        scores.add(f"session_ndcg@{NDCG_K}", groups, ndcg_at_k(sessions, gold_sessions, NDCG_K))
    if gold_turns:
        for k in TURN_KS:
            scores.add(f"turn_recall@{k}", groups, evidence_recall_at_k(ranked, gold_turns, k))


# -- reporting


def quality_metrics(doc: dict[str, Any]) -> list[str]:
    """The per-group metric names of a result document, in their order of appearance."""
    names: list[str] = []
    for result in doc["modes"].values():
        for key, value in result.items():
            if isinstance(value, dict) and key not in names:
                names.append(key)
    return names


def tables(doc: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(title, rows)``: each metric by question type (rows: modes), then speed."""
    out = []
    for metric in quality_metrics(doc):
        rows = [
            {"mode": mode, **{short_label(g): _cell(result[metric].get(g)) for g in doc["groups"]}}
            for mode, result in doc["modes"].items()
            if isinstance(result.get(metric), dict)
        ]
        out.append((f"LongMemEval {metric} by question type ({doc['questions']} questions)", rows))
    speed = []
    for mode, result in doc["modes"].items():
        row: dict[str, Any] = {"mode": mode}
        for key in ("ingest_turns_per_s", "query_ms_p50", "query_ms_p95", "llm_calls_per_turn"):
            row[key.replace("_", " ")] = _cell(result.get(key))
        row["status"] = f"unavailable: {result['unavailable']}" if "unavailable" in result else "ok"
        speed.append(row)
    out.append(("Speed and cost (embeddings cached before timing)", speed))
    return out


def short_label(group: str) -> str:
    """A question type short enough for a table column: ``single-session-user`` → ``ss-user``."""
    return group.replace("single-session-", "ss-").replace("-reasoning", "")


def _cell(value: Any) -> Any:
    return "-" if value is None else value


def csv_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (mode, metric, group) in long form, speed and status included."""
    rows: list[dict[str, Any]] = []
    for mode, result in doc["modes"].items():
        for metric, value in result.items():
            if isinstance(value, dict):
                rows.extend(
                    {"mode": mode, "metric": metric, "group": g, "value": v}
                    for g, v in value.items()
                )
            else:
                rows.append({"mode": mode, "metric": metric, "group": "", "value": value})
    return rows


def write_outputs(doc: dict[str, Any], folder: Path) -> list[Path]:
    """``longmemeval.csv`` and ``longmemeval_turn_recall.png`` (turn recall@10 by question
    type) in ``folder``."""
    from memoryspace.bench.report import write_csv

    written = [folder / "longmemeval.csv"]
    write_csv(written[0], csv_rows(doc))
    metric = f"turn_recall@{TURN_KS[0]}"
    series = {
        mode: [result[metric].get(g) for g in doc["groups"]]
        for mode, result in doc["modes"].items()
        if isinstance(result.get(metric), dict)
    }
    if series:
        written.append(folder / "longmemeval_turn_recall.png")
        write_bar_chart(
            written[1],
            f"LongMemEval {metric} by question type",
            [short_label(g) for g in doc["groups"]],
            series,
            metric,
        )
    return written
