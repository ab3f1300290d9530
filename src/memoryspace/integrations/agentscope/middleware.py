"""Long-term memory for AgentScope 2.0 agents, shaped like the shipped ``Mem0Middleware``.

Before each reply the middleware asks ``MemorySpace.context()`` for what is relevant to the
user's message, within a token budget (pinned memories first, then the best hits, laid out so
the prompt prefix stays stable), and appends it to the agent's context as an assistant
``HintBlock`` message right after the user's message, as the mem0 middleware does. After the
reply the exchange is recorded as a page of the user's MemoryOS-style conversation, so facts
and persona come from the conversation's processors (offline by default, an LLM when
``MEMORYSPACE_LLM_URL`` is set). ``list_tools()`` returns ``search_memory``, ``add_memory`` and
``forget_memory``. Every call into MemorySpace runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, Literal

from agentscope.event import ReplyStartEvent
from agentscope.message import AssistantMsg, HintBlock, Msg
from agentscope.middleware import MiddlewareBase
from agentscope.tool import ToolBase

from memoryspace import validate
from memoryspace.conversation import Conversation
from memoryspace.errors import InvalidInput, MemorySpaceError
from memoryspace.integrations.agentscope.tools import (
    AddMemoryTool,
    ForgetMemoryTool,
    SearchMemoryTool,
)
from memoryspace.space import MemorySpace

if TYPE_CHECKING:
    from agentscope.agent import Agent

log = logging.getLogger(__name__)

Mode = Literal["static_control", "agent_control", "both"]
MEMORY_MESSAGE_NAME = "memory"
DEFAULT_HEADER = "## Relevant memories from past conversations"
DEFAULT_INTRO = (
    "The following memories may be relevant. Use them only if they bear on the current request."
)
DEFAULT_TOOL_INSTRUCTIONS = (
    "## Long-term memory\n\n"
    "You have `search_memory`, `add_memory` and `forget_memory` tools. Search when the "
    "conversation depends on something said before, add durable facts about the user, and "
    "forget what the user asks you to forget."
)


class MemorySpaceMiddleware(MiddlewareBase):
    """AgentScope middleware giving an agent MemorySpace long-term memory.

    ``mode`` is the mem0 middleware's: ``"static_control"`` (inject before, record after),
    ``"agent_control"`` (tools only) or ``"both"``. Memories are scoped to ``user`` (and to
    ``agent`` too when ``scope_search_by_agent``); ``budget`` is the token budget of the
    injected memories, ``k`` the number of hits considered, ``min_score`` the relevance floor
    (default: the space's). The caller owns ``space`` and closes it.

    Raises:
        InvalidInput: an empty ``user``, an unknown ``mode``, a bad budget, ``k`` or
            ``min_score``.
    """

    def __init__(
        self,
        space: MemorySpace,
        *,
        user: str,
        agent: str | None = None,
        session: str | None = None,
        mode: Mode = "both",
        budget: int = 512,
        k: int = 8,
        min_score: float | None = None,
        scope_search_by_agent: bool = False,
        record: bool = True,
        header: str = DEFAULT_HEADER,
        intro: str = DEFAULT_INTRO,
        tool_instructions: str = DEFAULT_TOOL_INSTRUCTIONS,
    ) -> None:
        if not isinstance(space, MemorySpace):
            raise InvalidInput(f"space must be a MemorySpace, not {type(space).__name__}")
        if not isinstance(user, str) or not user.strip():
            raise InvalidInput("MemorySpaceMiddleware needs a non-empty user id")
        if mode not in ("static_control", "agent_control", "both"):
            raise InvalidInput(f"unknown mode {mode!r}; use static_control, agent_control or both")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise InvalidInput(f"budget is a positive number of tokens, not {budget!r}")
        self._space = space
        self.user, self.agent, self.session = user, agent, session
        self.mode: Mode = mode
        self.budget, self.k = budget, validate.k(k)
        self.min_score = None if min_score is None else validate.min_score(min_score)
        self.scope_search_by_agent = scope_search_by_agent
        self.record = record
        self.header, self.intro, self.tool_instructions = header, intro, tool_instructions
        self._conversation: Conversation | None = None

    @property
    def space(self) -> MemorySpace:
        return self._space

    def scope(self) -> dict[str, Any]:
        """The filters every search and write of this middleware uses."""
        scope: dict[str, Any] = {"user": self.user}
        if self.scope_search_by_agent and self.agent is not None:
            scope["agent"] = self.agent
        return scope

    def conversation(self) -> Conversation:
        """The user's conversation the exchanges are recorded in (made on first use)."""
        if self._conversation is None:
            self._conversation = self._space.conversation(user=self.user, agent=self.agent)
        return self._conversation

    async def recall(self, query: str) -> str | None:
        """The memory text to show the model for ``query`` (None: nothing relevant)."""
        assembled = await asyncio.to_thread(
            self._space.context,
            query,
            budget=self.budget,
            k=self.k,
            min_score=self.min_score,
            **self.scope(),
        )
        return assembled.text.strip() or None

    async def remember_exchange(self, user_text: str, agent_text: str) -> None:
        """Record one exchange as a conversation page (its facts and persona follow)."""
        await asyncio.to_thread(
            self.conversation().add_turn, user_text, agent_text, session=self.session
        )

    # -- hooks

    async def on_reply(
        self,
        agent: Agent,
        input_kwargs: dict[str, Any],
        next_handler: Callable[..., AsyncGenerator[Any, None]],
    ) -> AsyncGenerator[Any, None]:
        if self.mode == "agent_control":
            async for item in next_handler(**input_kwargs):
                yield item
            return
        query = user_text(input_kwargs.get("inputs"))
        memories = None
        if query:
            try:
                memories = await self.recall(query)
            except MemorySpaceError as exc:  # a memory failure must not end the reply
                log.warning("MemorySpace recall failed for user %s: %s", self.user, exc)
        final: Msg | None = None
        injected = False
        async for item in next_handler(**input_kwargs):
            if memories and not injected and isinstance(item, ReplyStartEvent):
                agent.state.context.append(self.memory_message(memories))
                injected = True
            if isinstance(item, Msg) and item.role == "assistant":
                final = item
            yield item
        answer = final.get_text_content() if final is not None else None
        if self.record and query and answer:
            try:
                await self.remember_exchange(query, answer)
            except MemorySpaceError as exc:
                log.warning("MemorySpace could not record the exchange: %s", exc)

    async def on_system_prompt(self, agent: Agent, current_prompt: str) -> str:
        if self.mode == "static_control":
            return current_prompt
        return f"{current_prompt}\n\n{self.tool_instructions}"

    async def list_tools(self) -> list[ToolBase]:
        if self.mode == "static_control":
            return []
        return [SearchMemoryTool(self), AddMemoryTool(self), ForgetMemoryTool(self)]

    def memory_message(self, memories: str) -> Msg:
        """The assistant message carrying the injected memories as a ``HintBlock``."""
        return AssistantMsg(
            name=MEMORY_MESSAGE_NAME,
            content=[HintBlock(hint=f"{self.header}\n{self.intro}\n{memories}")],
        )


def user_text(inputs: object) -> str | None:
    """The text of the user messages among a reply's inputs (None for resumption events)."""
    messages = inputs if isinstance(inputs, list) else [inputs]
    texts = [
        text
        for message in messages
        if isinstance(message, Msg) and message.role == "user"
        for text in [message.get_text_content()]
        if text
    ]
    return "\n".join(texts) if texts else None
