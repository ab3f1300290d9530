"""A user's MemoryOS-style conversation on the server (``/conversations/{user}/...``): the
remote counterpart of ``MemorySpace.conversation(user=..., agent=...)``.

``prompt`` returns the facade's own ``AssembledContext``. ``add_turn``, ``retrieve`` and
``persona`` return the REST answers (``TurnOut``, ``RetrievalOut``, ``PersonaOut`` from
``memoryspace.api``): the page's id and the conversation's shape rather than the whole page,
and plain models rather than the facade's dataclasses. Conversation settings and processors
are the server's; a turn's ``dia_ids`` and ``session`` are not sent over HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from memoryspace.api import PersonaOut, RetrievalOut, TurnOut
from memoryspace.client.calls import Call, _context, _segment
from memoryspace.context import AssembledContext


def _where(user: str, agent: str | None) -> tuple[str, dict[str, str]]:
    return f"/conversations/{_segment(user)}", ({} if agent is None else {"agent": agent})


def add_turn(
    user: str, agent: str | None, user_text: str, agent_text: str, timestamp: float | None
) -> Call[TurnOut]:
    path, params = _where(user, agent)
    body: dict[str, Any] = {"user_text": user_text, "agent_text": agent_text}
    if timestamp is not None:
        body["timestamp"] = timestamp
    return Call("POST", f"{path}/turns", TurnOut.model_validate, body, params)


def retrieve(user: str, agent: str | None, query: str) -> Call[RetrievalOut]:
    path, params = _where(user, agent)
    return Call("POST", f"{path}/retrieve", RetrievalOut.model_validate, {"query": query}, params)


def prompt(user: str, agent: str | None, query: str, budget: int) -> Call[AssembledContext]:
    path, params = _where(user, agent)
    body = {"query": query, "budget": budget}
    return Call("POST", f"{path}/prompt", _context, body, params)


def persona(user: str, agent: str | None) -> Call[PersonaOut]:
    path, params = _where(user, agent)
    return Call("GET", f"{path}/persona", PersonaOut.model_validate, None, params)


class RemoteConversation:
    """``MemoryClient.conversation(user=..., agent=...)``: add turns, recall, prompt, persona."""

    def __init__(self, run: Callable[[Call[Any]], Any], user: str, agent: str | None):
        _segment(user)  # a user is required and must be a non-empty string
        self._run = run
        self.user, self.agent = user, agent

    def add_turn(
        self, user_text: str, agent_text: str = "", timestamp: float | None = None
    ) -> TurnOut:
        """Store one exchange as a page of short-term memory."""
        result: TurnOut = self._run(
            add_turn(self.user, self.agent, user_text, agent_text, timestamp)
        )
        return result

    def retrieve(self, query: str) -> RetrievalOut:
        """What the conversation recalls for ``query``: pages, segments, facts, profile."""
        result: RetrievalOut = self._run(retrieve(self.user, self.agent, query))
        return result

    def prompt(self, query: str, budget: int) -> AssembledContext:
        """The conversation's prompt-ready memory for ``query`` within ``budget`` tokens."""
        result: AssembledContext = self._run(prompt(self.user, self.agent, query, budget))
        return result

    def persona(self) -> PersonaOut:
        """What long-term memory learned about the user."""
        result: PersonaOut = self._run(persona(self.user, self.agent))
        return result


class AsyncRemoteConversation:
    """``RemoteConversation`` for ``AsyncMemoryClient``: the same methods, awaited."""

    def __init__(self, run: Callable[[Call[Any]], Awaitable[Any]], user: str, agent: str | None):
        _segment(user)
        self._run = run
        self.user, self.agent = user, agent

    async def add_turn(
        self, user_text: str, agent_text: str = "", timestamp: float | None = None
    ) -> TurnOut:
        result: TurnOut = await self._run(
            add_turn(self.user, self.agent, user_text, agent_text, timestamp)
        )
        return result

    async def retrieve(self, query: str) -> RetrievalOut:
        result: RetrievalOut = await self._run(retrieve(self.user, self.agent, query))
        return result

    async def prompt(self, query: str, budget: int) -> AssembledContext:
        result: AssembledContext = await self._run(prompt(self.user, self.agent, query, budget))
        return result

    async def persona(self) -> PersonaOut:
        result: PersonaOut = await self._run(persona(self.user, self.agent))
        return result
