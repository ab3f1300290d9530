"""``ScriptedLLM``: an honest fake ``LLM`` for tests and demos, with no network.

It answers from a script (a list of replies, or a function of the conversation), validates and
repairs structured replies exactly as the real client does, raises scripted errors, and counts
calls and (estimated) tokens. Anything that takes an ``LLM`` can be tested with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from memoryspace.errors import LLMError, MemorySpaceError
from memoryspace.llm.base import (
    Completion,
    LLMStats,
    Message,
    Schema,
    StatsCounter,
    Usage,
    normalize_messages,
)
from memoryspace.llm.jsonout import complete_with_repairs
from memoryspace.tokens import estimate_tokens

Reply = str | BaseException
Responder = Callable[[list[dict[str, str]]], Reply]


class ScriptedLLM:
    """Replies in script order, or from ``responder(conversation)``; a reply that is an
    exception is raised instead. ``conversations`` records every conversation it was sent."""

    def __init__(
        self,
        replies: Iterable[Reply] | Responder = (),
        *,
        model: str = "scripted",
        max_repairs: int = 2,
    ) -> None:
        self._responder = replies if callable(replies) else None
        self._script = [] if callable(replies) else list(replies)
        self._model = model
        self._max_repairs = max_repairs
        self._lock = threading.Lock()
        self._stats = StatsCounter()
        self.conversations: list[list[dict[str, str]]] = []

    @property
    def model_id(self) -> str:
        """``scripted:{model}``."""
        return f"scripted:{self._model}"

    def usage(self) -> Usage:
        """Estimated tokens (about four characters a token) so far."""
        return self._stats.usage()

    def stats(self) -> LLMStats:
        """Calls, failures, requests, repairs and estimated tokens so far."""
        return self._stats.snapshot()

    def complete(
        self,
        messages: Sequence[Message] | str,
        *,
        schema: Schema | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> Completion:
        """The next scripted reply, validated against ``schema`` like the real client's.

        Raises:
            InvalidInput: malformed messages.
            LLMOutputError: the scripted replies never validated.
            LLMError: the script ran out; or the scripted exception itself.
        """
        conversation = normalize_messages(messages)
        self._stats.add(calls=1)
        try:
            return complete_with_repairs(
                self._exchange,
                conversation,
                schema,
                max_repairs=self._max_repairs,
                on_repair=lambda: self._stats.add(repairs=1),
            )
        except MemorySpaceError:
            self._stats.add(failures=1)
            raise

    def _exchange(
        self, conversation: list[dict[str, str]]
    ) -> tuple[str, Usage, str, str | None, int]:
        with self._lock:
            self.conversations.append(conversation)
            if self._responder is not None:
                reply: Reply = self._responder(conversation)
            elif self._script:
                reply = self._script.pop(0)
            else:
                reply = LLMError("the ScriptedLLM script ran out of replies")
        self._stats.add(requests=1)
        if isinstance(reply, BaseException):
            raise reply
        prompt = sum(estimate_tokens(message["content"]) for message in conversation)
        usage = Usage(prompt, estimate_tokens(reply))
        self._stats.add_usage(usage)
        return reply, usage, self._model, None, 1
