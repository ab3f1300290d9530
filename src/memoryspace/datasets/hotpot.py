"""HotpotQA questions with their context paragraphs and supporting facts.

Two shapes are read, detected per row:

* the original JSON: ``{_id, question, answer, supporting_facts: [[title, sent_id], ...],
  context: [[title, [sentence, ...]], ...]}``;
* rows of the Hugging Face ``hotpot_qa`` set: ``{id, ..., supporting_facts: {"title": [...],
  "sent_id": [...]}, context: {"title": [...], "sentences": [[...], ...]}}``.

A file is a JSON list of rows, one row, ``{"data": [...]}``, or JSON lines of rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memoryspace.datasets.sources import require_data
from memoryspace.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Paragraph:
    title: str
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HotpotQuestion:
    id: str
    question: str
    answer: str
    supporting_facts: tuple[tuple[str, int], ...]  # (title, sentence index)
    paragraphs: tuple[Paragraph, ...]
    type: str = ""
    level: str = ""

    def sentence_refs(self) -> list[tuple[str, str]]:
        """``(ref, sentence)`` for every context sentence, in order; see ``fact_ref``."""
        return [
            (fact_ref(p.title, n), s) for p in self.paragraphs for n, s in enumerate(p.sentences)
        ]

    def gold_refs(self) -> tuple[list[str], list[str]]:
        """The supporting facts as refs that name a context sentence, and those that do not."""
        known = {ref for ref, _ in self.sentence_refs()}
        refs = list(dict.fromkeys(fact_ref(t, n) for t, n in self.supporting_facts))
        return [r for r in refs if r in known], [r for r in refs if r not in known]


def fact_ref(title: str, sent_id: int) -> str:
    """The id of one sentence: ``"<title>#<index>"``."""
    return f"{title}#{sent_id}"


def _pairs(raw: object, where: str) -> list[tuple[str, int]]:
    if isinstance(raw, dict):  # Hugging Face: parallel lists
        titles, ids = raw.get("title", []), raw.get("sent_id", [])
        if len(titles) != len(ids):
            raise InvalidInput(
                f"{where}: supporting_facts has {len(titles)} titles but {len(ids)} sent_ids"
            )
        return [(str(t), int(n)) for t, n in zip(titles, ids, strict=True)]
    if isinstance(raw, list):
        try:
            return [(str(item[0]), int(item[1])) for item in raw]
        except (TypeError, ValueError, IndexError):
            pass
    raise InvalidInput(
        f"{where}: supporting_facts must be [[title, sent_id], ...] or "
        '{"title": [...], "sent_id": [...]}'
    )


def _paragraphs(raw: object, where: str) -> list[Paragraph]:
    if isinstance(raw, dict):  # Hugging Face: parallel lists
        titles, sentences = raw.get("title", []), raw.get("sentences", [])
        if len(titles) != len(sentences):
            raise InvalidInput(
                f"{where}: context has {len(titles)} titles but {len(sentences)} sentence lists"
            )
        return [
            Paragraph(str(t), tuple(str(s) for s in ss))
            for t, ss in zip(titles, sentences, strict=True)
        ]
    if isinstance(raw, list):
        try:
            return [Paragraph(str(item[0]), tuple(str(s) for s in item[1])) for item in raw]
        except (TypeError, IndexError):
            pass
    raise InvalidInput(
        f"{where}: context must be [[title, [sentences]], ...] or "
        '{"title": [...], "sentences": [[...], ...]}'
    )


def question_from_json(row: object, number: int = 1) -> HotpotQuestion:
    """One HotpotQA row of either shape → ``HotpotQuestion``.

    Raises:
        InvalidInput: the row lacks a field or has one of the wrong shape.
    """
    where = f"row {number}"
    if not isinstance(row, dict):
        raise InvalidInput(f"{where}: a HotpotQA row must be an object")
    try:
        qid, question = row.get("_id", row.get("id")), row["question"]
        facts, context = row["supporting_facts"], row["context"]
    except KeyError as exc:
        raise InvalidInput(f"{where}: not a HotpotQA row, it has no {exc.args[0]!r}") from None
    if qid is None:
        raise InvalidInput(f"{where}: a HotpotQA row needs '_id' or 'id'")
    return HotpotQuestion(
        id=str(qid),
        question=str(question),
        answer=str(row.get("answer", "")),
        supporting_facts=tuple(_pairs(facts, where)),
        paragraphs=tuple(_paragraphs(context, where)),
        type=str(row.get("type", "")),
        level=str(row.get("level", "")),
    )


def _rows(text: str, path: str | Path) -> list[Any]:
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if whole is not None:
        if isinstance(whole, dict) and isinstance(whole.get("data"), list):
            return list(whole["data"])
        return whole if isinstance(whole, list) else [whole]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"{path}:{number}: neither JSON nor JSON lines ({exc.msg})"
                ) from None
    return rows


def load_hotpot(path: str | Path, *, limit: int | None = None) -> list[HotpotQuestion]:
    """The questions of a HotpotQA file (original JSON, HF rows, or JSON lines of HF rows).

    Raises:
        InvalidInput: the file cannot be read or a row is not HotpotQA.
    """
    try:
        text = require_data(path, "hotpot").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read HotpotQA from {path}: {exc}") from None
    rows = _rows(text, path)
    if limit is not None:
        rows = rows[:limit]
    return [question_from_json(row, n) for n, row in enumerate(rows, 1)]
