"""Short-term memory with compaction for AgentScope 2.0 agents, stored in a MemorySpace.

Two pressures on an agent's context, two remedies (the ones seed 004 describes for ReMe's
short-term memory, with records instead of files):

- a tool output over ``tool_output_tokens`` is stored as a ``working`` record and replaced in
  the context by a preview that names the record id; the ``read_memory`` tool returns it whole;
- when the history passes ``max_context_tokens``, every message but the last ``keep_recent``
  is stored as a record, and one ``summary`` record that links them (``derived_from``, a strong
  link, so GC keeps the sources while the summary lives) becomes the agent's summary. The
  summary is extractive and offline by default (the space's processors: an LLM when
  ``MEMORYSPACE_LLM_URL`` is set). Each source record keeps the original message, so
  ``restore_messages(summary_id)`` rebuilds them exactly, and the log can undo it all.

The state (the ids of what was offloaded and compacted) is kept in
``agent.state.middle_context`` so it round-trips with ``AgentState``, and ``state_dict()`` /
``load_state_dict()`` round-trip it on its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agentscope.message import Msg, TextBlock, ToolCallBlock, ToolResultBlock
from agentscope.middleware import MiddlewareBase
from agentscope.tool import ToolBase, ToolResponse

from memoryspace.errors import InvalidInput
from memoryspace.integrations.agentscope.tools import ReadMemoryTool
from memoryspace.models import Link, LinkType
from memoryspace.space import MemorySpace

if TYPE_CHECKING:
    from agentscope.agent import Agent

STATE_KEY = "memoryspace_short_term"
_STATE_FIELDS = ("offloaded", "summaries", "compactions")


class MemorySpaceCompaction(MiddlewareBase):
    """Offloads large tool outputs and compacts long histories into summary records.

    Raises:
        InvalidInput: a bound that is not a positive integer, or ``keep_recent`` below 1.
    """

    def __init__(
        self,
        space: MemorySpace,
        *,
        user: str,
        agent: str | None = None,
        session: str | None = None,
        tool_output_tokens: int = 1000,
        preview_chars: int = 400,
        max_context_tokens: int = 6000,
        keep_recent: int = 4,
        summary_sentences: int = 5,
    ) -> None:
        if not isinstance(space, MemorySpace):
            raise InvalidInput(f"space must be a MemorySpace, not {type(space).__name__}")
        for name, value in (
            ("tool_output_tokens", tool_output_tokens),
            ("preview_chars", preview_chars),
            ("max_context_tokens", max_context_tokens),
            ("keep_recent", keep_recent),
            ("summary_sentences", summary_sentences),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, not {value!r}")
        self._space = space
        self.user, self.agent, self.session = user, agent, session
        self.tool_output_tokens = tool_output_tokens
        self.preview_chars = preview_chars
        self.max_context_tokens = max_context_tokens
        self.keep_recent = keep_recent
        self.summary_sentences = summary_sentences
        self._state: dict[str, Any] = {"offloaded": [], "summaries": [], "compactions": 0}

    @property
    def space(self) -> MemorySpace:
        return self._space

    def scope(self) -> dict[str, Any]:
        scope: dict[str, Any] = {"user": self.user}
        if self.agent is not None:
            scope["agent"] = self.agent
        if self.session is not None:
            scope["session"] = self.session
        return scope

    # -- state

    def state_dict(self) -> dict[str, Any]:
        """The ids of offloaded outputs and summaries, and the number of compactions (JSON)."""
        return json.loads(json.dumps(self._state))  # type: ignore[no-any-return]

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Restore what ``state_dict`` returned.

        Raises:
            InvalidInput: ``state`` is not such a dict (with ``strict``, also unknown keys).
        """
        if not isinstance(state, dict):
            raise InvalidInput(f"load_state_dict takes a dict, not {type(state).__name__}")
        unknown = set(state) - set(_STATE_FIELDS)
        if strict and (unknown or set(_STATE_FIELDS) - set(state)):
            raise InvalidInput(f"a short-term memory state has exactly the keys {_STATE_FIELDS}")
        lists_ok = all(
            isinstance(state.get(name, []), list)
            and all(isinstance(i, str) for i in state.get(name, []))
            for name in ("offloaded", "summaries")
        )
        count = state.get("compactions", 0)
        if not lists_ok or not isinstance(count, int) or isinstance(count, bool):
            raise InvalidInput("offloaded and summaries are lists of ids, compactions an integer")
        self._state = {
            "offloaded": list(state.get("offloaded", [])),
            "summaries": list(state.get("summaries", [])),
            "compactions": count,
        }

    def _sync(self, agent: Agent) -> None:
        agent.state.middle_context[STATE_KEY] = self.state_dict()

    def _adopt(self, agent: Agent) -> None:
        """Take the state an ``AgentState`` carries (e.g. loaded from storage)."""
        saved = agent.state.middle_context.get(STATE_KEY)
        if isinstance(saved, dict) and saved != self._state:
            self.load_state_dict(saved, strict=False)

    # -- hooks

    async def on_acting(
        self,
        agent: Agent,
        input_kwargs: dict[str, Any],
        next_handler: Callable[..., AsyncGenerator[Any, None]],
    ) -> AsyncGenerator[Any, None]:
        tool_call: ToolCallBlock = input_kwargs["tool_call"]
        async for item in next_handler(**input_kwargs):
            if isinstance(item, ToolResponse) and tool_call.name != ReadMemoryTool.name:
                item = await self._offload(agent, tool_call, item)
            yield item

    async def on_compress_context(
        self,
        agent: Agent,
        input_kwargs: dict[str, Any],
        next_handler: Callable[..., Awaitable[None]],
    ) -> None:
        self._adopt(agent)
        await self.compact(agent)
        await next_handler(**input_kwargs)  # AgentScope's own guard for the model's window

    async def list_tools(self) -> list[ToolBase]:
        return [ReadMemoryTool(self)]

    # -- offloading

    async def _offload(
        self, agent: Agent, tool_call: ToolCallBlock, response: ToolResponse
    ) -> ToolResponse:
        text = "\n".join(b.text for b in response.content if isinstance(b, TextBlock))
        tokens = await asyncio.to_thread(self._space.count_tokens, text)
        if tokens <= self.tool_output_tokens:
            return response
        self._adopt(agent)
        record = await asyncio.to_thread(
            self._space.add,
            text,
            kind="working",
            meta={"agentscope": {"tool": tool_call.name, "tool_call_id": tool_call.id}},
            tags=["tool_output"],
            **self.scope(),
        )
        self._state["offloaded"].append(record.id)
        self._sync(agent)
        preview = (
            f"{text[: self.preview_chars]}\n[... {tokens} tokens in all; the full output is "
            f"stored as memory {record.id}: call read_memory with that id to read it]"
        )
        others = [b for b in response.content if not isinstance(b, TextBlock)]
        return response.model_copy(update={"content": [TextBlock(text=preview), *others]})

    # -- compaction

    async def compact(self, agent: Agent) -> str | None:
        """Compact the agent's history if it is over ``max_context_tokens``; returns the new
        summary's id (None when nothing was compacted)."""
        context = list(agent.state.context)
        texts = [message_text(message) for message in context]
        total = sum(await asyncio.to_thread(lambda: [self._space.count_tokens(t) for t in texts]))
        if total <= self.max_context_tokens or len(context) <= self.keep_recent:
            return None
        cut = len(context) - self.keep_recent
        old, old_texts = context[:cut], texts[:cut]
        summary_id = await asyncio.to_thread(self._store_compaction, old, old_texts)
        summary = await asyncio.to_thread(self._space.get, summary_id)
        note = (
            f"{summary.content}\n(Compacted earlier history: memory {summary_id}; "
            "read_memory returns it and its source ids.)"
        )
        previous = agent.state.summary if isinstance(agent.state.summary, str) else ""
        agent.state.summary = f"{previous}\n\n{note}".strip()
        agent.state.context = context[cut:]
        self._state["summaries"].append(summary_id)
        self._state["compactions"] += 1
        self._sync(agent)
        return summary_id

    def _store_compaction(self, messages: list[Msg], texts: list[str]) -> str:
        items = [
            {
                "content": text or f"({message.role} message with no text)",
                "kind": "turn",
                "meta": {"agentscope": {"message": message.model_dump(mode="json")}},
                "tags": ["compacted"],
                **self.scope(),
            }
            for message, text in zip(messages, texts, strict=True)
        ]
        sources = self._space.add_many(items)
        summary_text = self._space.processors().summarize(
            [text for text in texts if text], max_sentences=self.summary_sentences
        )
        summary = self._space.add(
            summary_text or "(earlier history with no text)",
            kind="summary",
            links=[Link.to(source.id, LinkType.DERIVED_FROM) for source in sources],
            meta={"agentscope": {"compacted_messages": len(sources)}},
            **self.scope(),
        )
        return summary.id

    def restore_messages(self, summary_id: str) -> list[Msg]:
        """The original messages a summary compacted, in order, rebuilt from their records.

        Raises:
            NotFound: no record has that id.
            InvalidInput: the record is not a compaction summary.
        """
        summary = self._space.get(summary_id)
        if "compacted_messages" not in summary.meta.get("agentscope", {}):
            raise InvalidInput(f"{summary_id} is not a compaction summary")
        sources = self._space.get_many(summary.link_ids())
        return [Msg.model_validate(source.meta["agentscope"]["message"]) for source in sources]


def message_text(message: Msg) -> str:
    """A message's text as the model reads it: text, tool calls and tool results."""
    parts: list[str] = []
    content = message.content if isinstance(message.content, list) else [message.content]
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, TextBlock):
            parts.append(block.text)
        elif isinstance(block, ToolCallBlock):
            parts.append(f"[called {block.name} {block.input}]")
        elif isinstance(block, ToolResultBlock):
            output = block.output
            if isinstance(output, str):
                parts.append(f"[{block.name} returned] {output}")
            else:
                texts = " ".join(b.text for b in output if isinstance(b, TextBlock))
                parts.append(f"[{block.name} returned] {texts}")
    prefix = f"{message.name}: " if message.name else ""
    return prefix + "\n".join(part for part in parts if part) if parts else ""
