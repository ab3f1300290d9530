"""LoCoMo conversations: dated sessions of dialogue turns, and questions with evidence ids.

Only the dialogue is loaded as memory material; ``observation``, ``session_summary`` and
``event_summary`` are derived from the gold answers and are never read here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memoryspace.datasets.sources import require_data
from memoryspace.errors import InvalidInput

CATEGORY_NAMES = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
_SESSION = re.compile(r"^session_(\d+)$")
_DIA_ID = re.compile(r"^D(\d+):(\d+)$")


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    dia_id: str  # "D<session>:<turn>"
    session: int
    speaker: str
    text: str  # with the image caption appended, if the turn shared an image
    timestamp: float  # the session's date and time (Unix seconds, UTC)


@dataclass(frozen=True, slots=True)
class QAItem:
    question: str
    answer: str
    category: int
    evidence: tuple[str, ...]  # the ids that parsed; see parse_evidence
    unparsed_evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    turns: tuple[DialogueTurn, ...]
    questions: tuple[QAItem, ...]


def parse_session_date(text: str) -> float:
    """``"1:56 pm on 8 May, 2023"`` → Unix seconds (UTC).

    Raises:
        InvalidInput: another format.
    """
    cleaned = " ".join(text.replace(",", ", ").split()).replace(" ,", ",")
    for pattern in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(cleaned, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise InvalidInput(f"cannot read the session date {text!r}; expected '1:56 pm on 8 May, 2023'")


def parse_evidence(raw: object) -> tuple[list[str], list[str]]:
    """Evidence ids, leniently: split on ``;`` and spaces, normalise ``D:11:26`` → ``D11:26``.

    Returns ``(ids, unparsed)``.
    """
    items = raw if isinstance(raw, list) else [raw]
    ids: list[str] = []
    unparsed: list[str] = []
    for item in items:
        for piece in re.split(r"[;,\s]+", str(item)):
            piece = piece.strip()
            if not piece:
                continue
            fixed = re.sub(r"^D:?(\d+):(\d+)$", r"D\1:\2", piece)
            if _DIA_ID.match(fixed):
                ids.append(fixed)
            else:
                unparsed.append(piece)
    return ids, unparsed


def _turn_text(turn: dict[str, Any]) -> str:
    text = str(turn.get("text", "")).strip()
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [shares an image: {caption}]".strip()
    return text


def conversation_from_json(item: dict[str, Any]) -> Conversation:
    """One LoCoMo sample (``sample_id``, ``conversation``, ``qa``) → ``Conversation``.

    Raises:
        InvalidInput: the item is not shaped like a LoCoMo sample.
    """
    try:
        body = item["conversation"]
        speakers = (str(body["speaker_a"]), str(body["speaker_b"]))
    except (KeyError, TypeError):
        raise InvalidInput("not a LoCoMo sample: expected 'conversation' with speakers") from None
    sessions = sorted(int(m.group(1)) for key in body if (m := _SESSION.match(key)))
    turns: list[DialogueTurn] = []
    for number in sessions:
        when = parse_session_date(str(body[f"session_{number}_date_time"]))
        for turn in body[f"session_{number}"] or []:
            text = _turn_text(turn)
            if text:
                turns.append(
                    DialogueTurn(str(turn["dia_id"]), number, str(turn["speaker"]), text, when)
                )
    questions = []
    for qa in item.get("qa", []):
        ids, unparsed = parse_evidence(qa.get("evidence", []))
        answer = qa.get("answer", qa.get("adversarial_answer", ""))
        questions.append(
            QAItem(
                str(qa["question"]), str(answer), int(qa["category"]), tuple(ids), tuple(unparsed)
            )
        )
    return Conversation(str(item.get("sample_id", "")), speakers, tuple(turns), tuple(questions))


def load_locomo(path: str | Path) -> list[Conversation]:
    """Every conversation of a LoCoMo JSON file (a list of samples, or one sample).

    Raises:
        InvalidInput: the file is not LoCoMo JSON.
    """
    try:
        data = json.loads(require_data(path, "locomo").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read LoCoMo JSON from {path}: {exc}") from None
    samples = data if isinstance(data, list) else [data]
    return [conversation_from_json(sample) for sample in samples]


def is_locomo(data: object) -> bool:
    """Whether parsed JSON looks like LoCoMo (a sample or a list of samples)."""
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, dict) and isinstance(first.get("conversation"), dict)


def resolve_evidence(conversation: Conversation, qa: QAItem) -> tuple[list[str], list[str]]:
    """The question's evidence ids that name a turn of the conversation, and the rest.

    The rest holds what did not parse (``"D"``) and ids of turns that do not exist.
    """
    known = {turn.dia_id for turn in conversation.turns}
    resolved = [e for e in dict.fromkeys(qa.evidence) if e in known]
    missing = [e for e in qa.evidence if e not in known]
    return resolved, [*missing, *qa.unparsed_evidence]


def select_conversations(
    conversations: list[Conversation], ids: list[str] | None
) -> list[Conversation]:
    """The conversations whose ``sample_id`` is in ``ids`` (all when ``ids`` is empty).

    Raises:
        InvalidInput: an id names no conversation of the file.
    """
    if not ids:
        return conversations
    by_id = {c.sample_id: c for c in conversations}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise InvalidInput(
            f"no conversation {', '.join(unknown)} in the file; it has: {', '.join(by_id)}"
        )
    return [by_id[i] for i in dict.fromkeys(ids)]


def locomo_records(conversation: Conversation) -> list[dict[str, Any]]:
    """One memory per dialogue turn, scoped to the conversation (``user = sample_id``)."""
    return [
        {
            "content": f"{turn.speaker}: {turn.text}",
            "user": conversation.sample_id,
            "session": f"{conversation.sample_id}/session_{turn.session}",
            "kind": "turn",
            "timestamp": turn.timestamp,
            "meta": {"dia_id": turn.dia_id, "speaker": turn.speaker, "session": turn.session},
        }
        for turn in conversation.turns
    ]
