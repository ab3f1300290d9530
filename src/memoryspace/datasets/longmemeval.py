"""LongMemEval haystacks: dated chat sessions, and questions with the sessions that answer them.

An entry of the original files (``longmemeval_s.json``, ``_m``, ``_oracle``) holds one question
(``question``, ``answer``, ``answer_session_ids``) and its own haystack (``haystack_sessions``,
``haystack_session_ids``, ``haystack_dates``). Derived files put several questions on one
haystack: ``questions``, ``answers`` and ``answer_session_ids`` are then parallel lists.
Both load as ``Haystack`` objects holding one or more questions.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memoryspace.datasets.sources import require_data
from memoryspace.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: str
    content: str
    has_answer: bool = False


@dataclass(frozen=True, slots=True)
class ChatSession:
    id: str
    timestamp: float | None  # the session's date (Unix seconds, UTC), if it parsed
    turns: tuple[ChatTurn, ...]


@dataclass(frozen=True, slots=True)
class LMEQuestion:
    id: str
    type: str
    question: str
    answer: str
    answer_session_ids: tuple[str, ...]

    @property
    def abstention(self) -> bool:
        """An abstention question (its entry's id ends ``_abs``): the haystack does not answer
        it. Derived entries' question ids are ``<entry id>/<n>``."""
        return self.id.endswith("_abs") or self.id.rpartition("/")[0].endswith("_abs")


@dataclass(frozen=True, slots=True)
class Haystack:
    id: str
    question_date: str
    sessions: tuple[ChatSession, ...]
    questions: tuple[LMEQuestion, ...]


def parse_lme_date(text: str) -> float | None:
    """``"2023/07/12 (Wed) 10:14"`` → Unix seconds (UTC); ``None`` for another format."""
    parts = str(text).split()
    if len(parts) == 3:
        parts = [parts[0], parts[2]]  # drop the weekday
    try:
        return datetime.strptime(" ".join(parts), "%Y/%m/%d %H:%M").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _sessions(entry: dict[str, Any], where: str) -> tuple[ChatSession, ...]:
    raw, ids = entry["haystack_sessions"], entry["haystack_session_ids"]
    dates = entry.get("haystack_dates") or [""] * len(raw)
    if not (len(raw) == len(ids) == len(dates)):
        raise InvalidInput(f"{where}: haystack_sessions, _session_ids and _dates differ in length")
    sessions = []
    for sid, date, turns in zip(ids, dates, raw, strict=True):
        if not isinstance(turns, list):
            raise InvalidInput(f"{where}: session {sid} must be a list of turns")
        sessions.append(
            ChatSession(
                str(sid),
                parse_lme_date(date),
                tuple(
                    ChatTurn(
                        str(t.get("role", "")),
                        str(t.get("content", "")),
                        bool(t.get("has_answer", False)),
                    )
                    for t in turns
                    if isinstance(t, dict)
                ),
            )
        )
    return tuple(sessions)


def _questions(entry: dict[str, Any], where: str) -> tuple[LMEQuestion, ...]:
    qid, qtype = str(entry.get("question_id", "")), str(entry.get("question_type", ""))
    if "questions" in entry:  # derived: several questions on one haystack
        texts, answers = entry["questions"], entry.get("answers", [])
        gold = entry["answer_session_ids"]
        if not (len(texts) == len(gold)) or (answers and len(answers) != len(texts)):
            raise InvalidInput(
                f"{where}: questions, answers and answer_session_ids differ in length"
            )
        answers = answers or [""] * len(texts)
        return tuple(
            LMEQuestion(f"{qid}/{n}", qtype, str(q), str(a), tuple(str(s) for s in g))
            for n, (q, a, g) in enumerate(zip(texts, answers, gold, strict=True))
        )
    return (
        LMEQuestion(
            qid,
            qtype,
            str(entry["question"]),
            str(entry.get("answer", "")),
            tuple(str(s) for s in entry["answer_session_ids"]),
        ),
    )


def haystack_from_json(entry: object, number: int = 1) -> Haystack:
    """One LongMemEval entry (original or derived) → ``Haystack``.

    Raises:
        InvalidInput: the entry is not shaped like LongMemEval.
    """
    where = f"entry {number}"
    if not isinstance(entry, dict):
        raise InvalidInput(f"{where}: a LongMemEval entry must be an object")
    try:
        return Haystack(
            id=str(entry.get("question_id", number)),
            question_date=str(entry.get("question_date", "")),
            sessions=_sessions(entry, where),
            questions=_questions(entry, where),
        )
    except KeyError as exc:
        raise InvalidInput(f"{where}: not LongMemEval, it has no {exc.args[0]!r}") from None


def load_longmemeval(path: str | Path) -> list[Haystack]:
    """Every haystack of a LongMemEval JSON file (a list of entries), plain or gzipped
    (``.json.gz``: the gzip magic bytes decide, not the name).

    Raises:
        InvalidInput: the file cannot be read or is not LongMemEval.
    """
    try:
        raw = require_data(path, "longmemeval").read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read LongMemEval JSON from {path}: {exc}") from None
    entries = data if isinstance(data, list) else [data]
    return [haystack_from_json(entry, n) for n, entry in enumerate(entries, 1)]
