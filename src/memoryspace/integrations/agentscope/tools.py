"""The memory tools an AgentScope agent can call: search, add, forget and read memories.

Each tool is an AgentScope ``ToolBase`` that allows itself (memory tools are part of the
agent's standard capabilities, as in the shipped mem0 middleware) and runs the facade's work
in a worker thread. Failures come back as an ERROR tool chunk the model can read, never as an
exception that would end the reply.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from agentscope.message import TextBlock, ToolResultState
from agentscope.permission import PermissionBehavior, PermissionContext, PermissionDecision
from agentscope.tool import ToolBase, ToolChunk

from memoryspace.errors import MemorySpaceError, NotFound
from memoryspace.space import MemorySpace

ACTOR = "agentscope"


class MemoryScope(Protocol):
    """What the tools need from their middleware: the space and the scope to work in."""

    @property
    def space(self) -> MemorySpace: ...

    def scope(self) -> dict[str, Any]: ...


_SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "keywords": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Short, targeted phrases: a name, a date, a place, a topic.",
        },
        "limit": {"type": "integer", "description": "Memories per keyword.", "default": 5},
    },
    "required": ["keywords"],
}

_ADD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thinking": {"type": "string", "description": "Why this is worth remembering."},
        "content": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Facts to remember, each a complete standalone sentence.",
        },
    },
    "required": ["content"],
}

_FORGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ids": {"type": "array", "items": {"type": "string"}, "description": "Memory ids."},
        "query": {"type": "string", "description": "Forget the best match of this query."},
    },
}

_READ_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string", "description": "The record id."}},
    "required": ["id"],
}


class _MemoryTool(ToolBase):
    is_external_tool = False
    is_state_injected = False
    is_mcp = False
    mcp_name = None

    def __init__(self, owner: MemoryScope) -> None:
        super().__init__()
        self._owner = owner

    async def check_permissions(
        self, tool_input: dict[str, Any], context: PermissionContext
    ) -> PermissionDecision:
        return PermissionDecision(
            behavior=PermissionBehavior.ALLOW, message="auto-allowed: MemorySpace memory tool"
        )


class SearchMemoryTool(_MemoryTool):
    name = "search_memory"
    description = (
        "Search long-term memory. Each keyword is a separate hybrid (keyword + semantic) "
        "search; results are merged, best first, each with its memory id."
    )
    input_schema = _SEARCH_SCHEMA
    is_concurrency_safe = True
    is_read_only = True

    async def call(self, keywords: list[str], limit: int = 5) -> ToolChunk:
        if not keywords:
            return text_chunk("(no keywords supplied: nothing to search)")
        space, scope = self._owner.space, self._owner.scope()
        try:
            found = await asyncio.gather(
                *[
                    asyncio.to_thread(space.search, keyword, k=limit, **scope)
                    for keyword in keywords
                ]
            )
        except MemorySpaceError as exc:
            return error_chunk(f"search_memory failed: {exc}")
        best: dict[str, tuple[float, str]] = {}
        for hits in found:
            for hit in hits:
                if hit.memory.id not in best or best[hit.memory.id][0] < hit.score:
                    best[hit.memory.id] = (hit.score, hit.memory.content)
        if not best:
            return text_chunk("(no relevant memories found)")
        ranked = sorted(best.items(), key=lambda item: -item[1][0])
        return text_chunk("\n".join(f"- [{id}] {content}" for id, (_, content) in ranked))


class AddMemoryTool(_MemoryTool):
    name = "add_memory"
    description = (
        "Record durable facts worth remembering later. Only `content` is stored; `thinking` "
        "stays in the transcript."
    )
    input_schema = _ADD_SCHEMA
    is_concurrency_safe = False
    is_read_only = False

    async def call(self, content: list[str], thinking: str = "") -> ToolChunk:
        facts = [fact for fact in content if isinstance(fact, str) and fact.strip()]
        if not facts:
            return error_chunk("`content` is empty: nothing to record.")
        space, scope = self._owner.space, self._owner.scope()
        items = [{"content": fact, "kind": "fact", **scope} for fact in facts]
        try:
            stored = await asyncio.to_thread(space.add_many, items)
        except MemorySpaceError as exc:
            return error_chunk(f"add_memory failed: {exc}")
        return text_chunk("Recorded: " + ", ".join(memory.id for memory in stored))


class ForgetMemoryTool(_MemoryTool):
    name = "forget_memory"
    description = (
        "Forget memories: by id (from search_memory), or the best match of a query. The "
        "deletion is logged and can be undone by the operator."
    )
    input_schema = _FORGET_SCHEMA
    is_concurrency_safe = False
    is_read_only = False

    async def call(self, ids: list[str] | None = None, query: str | None = None) -> ToolChunk:
        space, scope = self._owner.space, self._owner.scope()
        try:
            if ids:
                own = {
                    m.id
                    for m in await asyncio.to_thread(space.get_many, ids)
                    if all(getattr(m, name) == value for name, value in scope.items())
                }
                missing = [id for id in ids if id not in own]
                if missing:
                    return error_chunk(f"no memory of yours has the id(s) {missing}")
                await asyncio.to_thread(space.delete, list(own), actor=ACTOR)
                forgotten = list(own)
            elif query:
                forgotten = await asyncio.to_thread(space.forget, query, k=1, actor=ACTOR, **scope)
            else:
                return error_chunk("pass `ids` or a `query` to forget")
        except (MemorySpaceError, NotFound) as exc:
            return error_chunk(f"forget_memory failed: {exc}")
        if not forgotten:
            return text_chunk("Nothing matched well enough; nothing was forgotten.")
        return text_chunk("Forgotten: " + ", ".join(forgotten))


class ReadMemoryTool(_MemoryTool):
    name = "read_memory"
    description = (
        "Read a stored record in full by its id: a tool output that was replaced by a "
        "preview, or the summary of compacted history and its sources."
    )
    input_schema = _READ_SCHEMA
    is_concurrency_safe = True
    is_read_only = True

    async def call(self, id: str) -> ToolChunk:
        try:
            memory = await asyncio.to_thread(self._owner.space.get, id)
        except MemorySpaceError as exc:
            return error_chunk(f"read_memory failed: {exc}")
        return text_chunk(memory.content)


def text_chunk(text: str) -> ToolChunk:
    return ToolChunk(content=[TextBlock(text=text)])


def error_chunk(text: str) -> ToolChunk:
    return ToolChunk(content=[TextBlock(text=text)], state=ToolResultState.ERROR)
