"""Persona extraction over the MemoryBank dialogues: what a conversation learns about each user.

    memoryspace demo persona --data memory_bank_en.json

Each user's dated dialogues go through ``ms.conversation(user=name, agent="companion")`` as
``add_turn(query, response)`` pairs, in one space (one scope per user). At the end of each user's
history the conversation is consolidated (every page absorbed into long-term memory) and the
persona is read back. Offline: the default processors make no LLM call. The data set's own
``meta_information`` (personality, hobbies) is shown beside it for comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memoryspace.conversation import ConversationSettings
from memoryspace.datasets.sources import require_data
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput
from memoryspace.llm.processors import Persona
from memoryspace.space import MemorySpace


@dataclass(frozen=True, slots=True)
class UserDialogue:
    """One MemoryBank user: name, ``(unix time, query, response)`` turns and the stated profile."""

    name: str
    turns: tuple[tuple[float, str, str], ...]
    stated: dict[str, str]


@dataclass(frozen=True, slots=True)
class LearnedPersona:
    """What the conversation learned about one user, with its sizes."""

    name: str
    persona: Persona
    agent_traits: tuple[str, ...]
    facts: int
    pages: int
    segments: int
    stated: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "persona": self.persona.describe(),
            "traits": [trait for trait, _ in self.persona.traits],
            "agent_traits": list(self.agent_traits),
            "facts": self.facts,
            "pages": self.pages,
            "segments": self.segments,
            "stated": self.stated,
        }


def load_memorybank(path: Path) -> list[UserDialogue]:
    """The users of a MemoryBank JSON file (``{name: {"history": {date: [{query, response}]}}}``).

    Raises:
        InvalidInput: the file cannot be read or is not MemoryBank-shaped.
    """
    try:
        data = json.loads(require_data(path, "memorybank").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read MemoryBank data from {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: MemoryBank data is an object of users by name")
    users = []
    for key, user in data.items():
        if not isinstance(user, dict) or not isinstance(user.get("history"), dict):
            raise InvalidInput(f"{path}: user {key!r} has no 'history' object of dated dialogues")
        turns = []
        for day, exchanges in sorted(user["history"].items()):
            try:
                when = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
            except ValueError:
                raise InvalidInput(f"{path}: {key!r} has a history date {day!r}") from None
            for number, exchange in enumerate(exchanges or []):
                query = str(exchange.get("query") or "").strip()
                response = str(exchange.get("response") or "").strip()
                if query or response:
                    turns.append((when + 60.0 * number, query, response))
        stated = {k: str(v) for k, v in (user.get("meta_information") or {}).items()}
        users.append(UserDialogue(str(user.get("name") or key).strip(), tuple(turns), stated))
    return users


def learn_personas(users: list[UserDialogue], *, embedder: Embedder | str) -> list[LearnedPersona]:
    """Run every user's dialogue through a conversation, offline, and read back the persona."""
    out = []
    with MemorySpace.open(":memory:", embedder=embedder) as ms:
        for user in users:
            settings = ConversationSettings(user_label=user.name, agent_label="AI")
            conversation = ms.conversation(user=user.name, agent="companion", settings=settings)
            for when, query, response in user.turns:
                conversation.add_turn(query, response, when)
            conversation.consolidate()
            out.append(
                LearnedPersona(
                    name=user.name,
                    persona=conversation.persona(),
                    agent_traits=tuple(conversation.lpm.agent_traits()),
                    facts=len(conversation.lpm.fact_records),
                    pages=conversation.turns_added,
                    segments=len(conversation.segments),
                    stated=user.stated,
                )
            )
    return out


def render(learned: list[LearnedPersona]) -> str:
    """The personas as plain text, one block per user."""
    blocks = []
    for item in learned:
        lines = [
            f"== {item.name}: {item.pages} pages, {item.segments} live segments, "
            f"{item.facts} facts",
            *("  " + line for line in item.persona.describe().splitlines()[1:]),
        ]
        if item.agent_traits:
            lines.append("  Agent traits: " + ", ".join(item.agent_traits))
        for key in ("personality", "hobbies"):
            if key in item.stated:
                lines.append(f"  (data set {key}: {item.stated[key]})")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
