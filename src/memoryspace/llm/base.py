"""The ``LLM`` protocol: chat completion with optional structured output, and its accounting.

An LLM is optional everywhere in MemorySpace: every task it can do has an offline processor, and a
failed call raises an ``LLMError`` (a ``BackendUnavailable``) so the caller can degrade to that
processor. The error's message is for logs only; it never becomes memory content.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from memoryspace.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic import BaseModel

Message: TypeAlias = Mapping[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

Schema: TypeAlias = "type[BaseModel] | dict[str, Any]"
"""What a structured reply must match: a pydantic model class, or a JSON schema as a dict."""

ROLES = frozenset({"system", "user", "assistant"})


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens the server reported for one completion (or a sum of them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """One answered ``complete`` call.

    ``text`` is the final reply; ``parsed`` is the validated object when a schema was given (an
    instance of the pydantic model, or a dict for a JSON-schema dict), else ``None``. ``usage``
    sums every request the call needed (repairs included); ``requests`` counts them.
    """

    text: str
    parsed: Any = None
    usage: Usage = Usage()
    model: str = ""
    finish_reason: str | None = None
    requests: int = 1


@dataclass(frozen=True, slots=True)
class LLMStats:
    """Counters since the client was made: the cost of using an LLM, measured.

    ``calls`` are ``complete`` calls and ``failures`` those of them that raised; ``requests`` are
    HTTP requests, ``retries`` those repeated after a transient failure, ``repairs`` those asking
    the model to fix a reply that did not validate.
    """

    calls: int = 0
    failures: int = 0
    requests: int = 0
    retries: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``complete`` answers a conversation; with ``schema`` the reply is validated.

    Implementations count what they spend: ``usage()`` is the token total so far, ``stats()``
    every counter.
    """

    @property
    def model_id(self) -> str: ...

    def complete(
        self,
        messages: Sequence[Message] | str,
        *,
        schema: Schema | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> Completion: ...

    def usage(self) -> Usage: ...

    def stats(self) -> LLMStats: ...


class StatsCounter:
    """Thread-safe counters behind ``usage()`` / ``stats()``, shared by the implementations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(LLMStats.__dataclass_fields__, 0)

    def add(self, **amounts: int) -> None:
        """Add to the named counters (names of ``LLMStats`` fields)."""
        with self._lock:
            for name, amount in amounts.items():
                self._values[name] += amount

    def add_usage(self, usage: Usage) -> None:
        """Count the tokens of one request."""
        self.add(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)

    def snapshot(self) -> LLMStats:
        """The counters now."""
        with self._lock:
            return LLMStats(**self._values)

    def usage(self) -> Usage:
        """The token totals now."""
        stats = self.snapshot()
        return Usage(stats.prompt_tokens, stats.completion_tokens)


def normalize_messages(messages: Sequence[Message] | str) -> list[dict[str, str]]:
    """Check the messages and copy them as plain dicts; a string is one user message.

    Raises:
        InvalidInput: empty, or a message without a known role or a string content.
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    out: list[dict[str, str]] = []
    for number, message in enumerate(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        if role not in ROLES or not isinstance(content, str):
            raise InvalidInput(
                f"messages[{number}] must be a mapping with role in {sorted(ROLES)} "
                "and a string content"
            )
        out.append({"role": role, "content": content})
    if not out:
        raise InvalidInput("messages is empty; pass at least one user message")
    return out
