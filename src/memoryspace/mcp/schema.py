"""What the MCP tools share: argument types a model reads (with descriptions), how a memory
is shown to a model, and how library errors become tool errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from memoryspace.errors import MemorySpaceError
from memoryspace.models import Memory

User = Annotated[
    str | None,
    Field(
        strict=True,
        min_length=1,
        description="The user whose memories these are (e.g. 'alice'). Pass it on every call.",
    ),
]
Agent = Annotated[
    str | None,
    Field(
        strict=True,
        min_length=1,
        description="The agent whose memories these are; omit for memories of the user alone.",
    ),
]
KindName = Literal["turn", "fact", "note", "summary", "persona", "procedure", "plan", "working"]
Query = Annotated[
    str,
    Field(strict=True, min_length=1, description="What to look for, in natural language."),
]
MemoryId = Annotated[
    str, Field(strict=True, min_length=1, description="A memory id, as other tools return it.")
]
ToolFunction = Callable[..., dict[str, Any]]
Count = Annotated[int, Field(strict=True, ge=1, le=100)]


def memory_view(memory: Memory) -> dict[str, Any]:
    """What a tool tells a model about a memory (no access counters or link internals)."""
    return {
        "id": memory.id,
        "content": memory.content,
        "kind": str(memory.kind),
        "user": memory.user,
        "agent": memory.agent,
        "session": memory.session,
        "tags": list(memory.tags),
        "importance": memory.importance,
        "pinned": memory.pinned,
        "created_at": memory.created_at,
        "version": memory.version,
    }


@contextmanager
def tool_errors() -> Iterator[None]:
    """A library error becomes a tool error with its type and message (the client sees it)."""
    try:
        yield
    except MemorySpaceError as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from exc


ToolDecorator = Callable[[ToolAnnotations], Callable[[ToolFunction], ToolFunction]]
"""Registers a tool function on a server with its annotations (its docstring describes it)."""
