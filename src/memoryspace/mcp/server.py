"""The MCP server over a ``MemorySpace``: tools and resources for an agent's long-term memory.

    server = build_mcp_server(ms)          # every memory (stdio, one local user)
    server.run("stdio")

Built with the SDK's ``MCPServer``. Each tool is a thin wrapper of ``ScopedMemory``: it checks
the session's ``Access`` (over HTTP, the one the bearer token granted; see
``memoryspace.mcp.http``), validates its arguments strictly (wrong types are rejected, never
coerced) and turns library errors into MCP tool errors that carry the message.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.types import ToolAnnotations
from pydantic import Field

from memoryspace import __version__
from memoryspace.access.namespaces import Access
from memoryspace.access.scoped import ScopedMemory
from memoryspace.errors import MemorySpaceError
from memoryspace.mcp.schema import (
    Agent,
    Count,
    KindName,
    MemoryId,
    Query,
    ToolFunction,
    User,
    memory_view,
    tool_errors,
)
from memoryspace.mcp.structures import STRUCTURE_TOOLS, add_structure_tools
from memoryspace.space import MemorySpace

ACCESS_SCOPE_KEY = "memoryspace.access"
"""Where the HTTP middleware leaves the request's ``Access`` in the ASGI scope."""

TOOL_NAMES = (
    "add_memory",
    "search_memory",
    "get_context",
    "forget_memory",
    "pin_memory",
    "update_memory",
    "memory_history",
    "add_turn",
    "list_memories",
    *STRUCTURE_TOOLS,
)

INSTRUCTIONS = """\
Long-term memory for this agent, kept in a MemorySpace database. Memories belong to a user
and/or an agent: always pass the user (and agent) you are acting for. Before answering a
question about the user or past conversations, call search_memory or get_context; store
durable facts and preferences with add_memory; log each finished exchange with add_turn.
Use forget_memory with dry_run=true to preview before deleting."""


def access_of(ctx: Context, default: Access) -> Access:
    """The request's ``Access``: the one the HTTP middleware resolved, else ``default``."""
    request = ctx.request_context.request
    if request is None:  # stdio: one local client
        return default
    scope = getattr(request, "scope", None)
    access = scope.get(ACCESS_SCOPE_KEY) if isinstance(scope, dict) else None
    if not isinstance(access, Access):
        # An HTTP request that did not pass the middleware: it gets nothing.
        return Access.nothing()
    return access


def build_mcp_server(space: MemorySpace, *, access: Access | None = None) -> MCPServer:
    """An MCP server whose tools read and write ``space``.

    ``access`` is what a session without HTTP credentials may do (stdio); default: everything.
    Over HTTP each request uses the ``Access`` its bearer token resolved to.
    """
    default = Access.everything() if access is None else access

    def scoped(ctx: Context) -> ScopedMemory:
        return ScopedMemory(space, access_of(ctx, default))

    server = MCPServer(
        "memoryspace", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False)
    reads = ToolAnnotations(read_only_hint=True)

    def tool(annotations: ToolAnnotations) -> Callable[[ToolFunction], ToolFunction]:
        """Register a tool described by its docstring (dedented: models read it)."""

        def register(fn: ToolFunction) -> ToolFunction:
            description = inspect.cleandoc(fn.__doc__ or "")
            server.add_tool(fn, description=description, annotations=annotations)
            return fn

        return register

    @tool(writes)
    def add_memory(
        content: Annotated[
            str,
            Field(strict=True, min_length=1, description="The memory, one self-contained fact."),
        ],
        ctx: Context,
        user: User = None,
        agent: Agent = None,
        kind: Annotated[
            KindName,
            Field(description="fact (default), note, plan, procedure, persona, turn, ..."),
        ] = "fact",
        tags: Annotated[
            list[str], Field(strict=True, max_length=32, description="Labels to filter by later.")
        ] = [],  # noqa: B006  (pydantic copies defaults; the schema shows [])
        importance: Annotated[
            float | None,
            Field(strict=True, ge=0, le=1, description="0..1; higher survives cleanup longer."),
        ] = None,
        pinned: Annotated[
            bool, Field(strict=True, description="True keeps it forever and in every context.")
        ] = False,
    ) -> dict[str, Any]:
        """Store a durable memory: a fact, preference, decision or note worth recalling in
        later conversations (e.g. "Alice is allergic to peanuts"). Use add_turn instead to log
        a dialogue exchange. Returns the stored memory with its id."""
        with tool_errors():
            memory = scoped(ctx).add(
                content,
                user=user,
                agent=agent,
                kind=kind,
                tags=tags,
                importance=importance,
                pinned=pinned,
            )
            return memory_view(memory)

    @tool(reads)
    def search_memory(
        query: Query,
        ctx: Context,
        user: User = None,
        agent: Agent = None,
        k: Annotated[Count, Field(description="How many memories at most (1-100).")] = 5,
        min_score: Annotated[
            float | None,
            Field(strict=True, ge=0, le=1, description="Relevance 0..1 a hit needs (default 0.1)."),
        ] = None,
        kind: Annotated[KindName | None, Field(description="Only memories of this kind.")] = None,
    ) -> dict[str, Any]:
        """Find the stored memories most relevant to a question, best first, each with its
        id, content and a relevance score in [0, 1]. Use it before answering anything that
        depends on what the user said or did before. An empty list means nothing relevant."""
        with tool_errors():
            hits = scoped(ctx).search(
                query, user=user, agent=agent, k=k, min_score=min_score, kind=kind
            )
            return {
                "hits": [{**memory_view(hit.memory), "score": hit.score} for hit in hits],
            }

    @tool(reads)
    def get_context(
        query: Query,
        ctx: Context,
        user: User = None,
        agent: Agent = None,
        budget: Annotated[
            int,
            Field(strict=True, ge=16, le=200_000, description="Most tokens the text may use."),
        ] = 1000,
        k: Annotated[Count, Field(description="How many search hits to consider.")] = 20,
    ) -> dict[str, Any]:
        """Prompt-ready memory text for the current question within a token budget: the
        pinned memories first, then the most relevant ones. Use it to build your own context
        in one call; use search_memory when you need individual memories and their ids."""
        with tool_errors():
            assembled = scoped(ctx).context(query, user=user, agent=agent, budget=budget, k=k)
            sources = [id for block in assembled.blocks for id in block.source_ids]
            return {
                "text": assembled.text,
                "tokens": assembled.tokens,
                "budget": assembled.budget,
                "source_ids": list(dict.fromkeys(sources)),
            }

    @tool(ToolAnnotations(read_only_hint=False, destructive_hint=True))
    def forget_memory(
        ctx: Context,
        ids: Annotated[
            list[str],
            Field(strict=True, max_length=100, description="Ids of the memories to delete."),
        ] = [],  # noqa: B006  (pydantic copies defaults; the schema shows [])
        query: Annotated[
            str | None,
            Field(
                strict=True,
                min_length=1,
                description="Instead of ids: delete the k memories that best match this.",
            ),
        ] = None,
        user: User = None,
        agent: Agent = None,
        k: Annotated[Count, Field(description="With a query: how many best matches.")] = 1,
        dry_run: Annotated[
            bool,
            Field(strict=True, description="True: only show what would be deleted (a preview)."),
        ] = False,
    ) -> dict[str, Any]:
        """Delete memories the user wants forgotten or that are wrong, either by id or by a
        query within the user's memories. Call with dry_run=true first to preview what
        would be deleted, then again with dry_run=false. Deleted memories stay in the history."""
        with tool_errors():
            targets = scoped(ctx).forget(
                ids=ids, query=query, user=user, agent=agent, k=k, dry_run=dry_run
            )
            key = "would_forget" if dry_run else "forgotten"
            return {"dry_run": dry_run, key: [memory_view(m) for m in targets]}

    @tool(writes)
    def pin_memory(
        id: MemoryId,
        ctx: Context,
        pinned: Annotated[
            bool, Field(strict=True, description="True pins it; false unpins it.")
        ] = True,
    ) -> dict[str, Any]:
        """Pin a memory so it is never forgotten by cleanup and always comes first in
        get_context (e.g. a standing instruction or a key fact); pinned=false unpins it."""
        with tool_errors():
            return memory_view(scoped(ctx).set_pinned(id, pinned))

    @tool(writes)
    def update_memory(
        id: MemoryId,
        ctx: Context,
        content: Annotated[
            str | None,
            Field(strict=True, min_length=1, description="The corrected text, if it changes."),
        ] = None,
        tags: Annotated[
            list[str] | None,
            Field(strict=True, max_length=32, description="The new labels (replace the old)."),
        ] = None,
        importance: Annotated[
            float | None, Field(strict=True, ge=0, le=1, description="The new importance, 0..1.")
        ] = None,
        kind: Annotated[KindName | None, Field(description="The new kind.")] = None,
    ) -> dict[str, Any]:
        """Correct or refine a stored memory in place (e.g. the user moved city, a fact was
        wrong) instead of adding a contradicting one. Give only the fields that change; the
        old text stays in memory_history. Returns the memory as it is now."""
        fields = {"content": content, "tags": tags, "importance": importance, "kind": kind}
        with tool_errors():
            changed = {name: value for name, value in fields.items() if value is not None}
            return memory_view(scoped(ctx).edit(id, **changed))

    @tool(reads)
    def memory_history(id: MemoryId, ctx: Context) -> dict[str, Any]:
        """Every change of one memory, oldest first (who added, edited or deleted it, and
        when, with its content before and after). Use it to explain why a memory says what
        it says, or to find what a deleted memory said."""
        with tool_errors():
            changes = scoped(ctx).history(id)
            return {
                "id": id,
                "changes": [
                    {
                        "lsn": change.lsn,
                        "time": change.time,
                        "op": str(change.op),
                        "actor": change.actor,
                        "before": None if change.before is None else change.before.content,
                        "after": None if change.after is None else change.after.content,
                    }
                    for change in changes
                ],
            }

    @tool(writes)
    def add_turn(
        user: Annotated[
            str, Field(strict=True, min_length=1, description="The user of the conversation.")
        ],
        user_text: Annotated[str, Field(strict=True, description="What the user said.")],
        ctx: Context,
        agent_text: Annotated[str, Field(strict=True, description="What you answered.")] = "",
        agent: Agent = None,
        session: Annotated[
            str | None,
            Field(strict=True, min_length=1, description="The conversation session id, if any."),
        ] = None,
    ) -> dict[str, Any]:
        """Log one finished exchange (the user's message and your reply) in the user's
        conversation memory. Recent exchanges stay verbatim; older ones are grouped by topic
        and facts about the user are learned from them into the persona resource."""
        with tool_errors():
            added = scoped(ctx).add_turn(
                user=user, agent=agent, user_text=user_text, agent_text=agent_text, session=session
            )
            return {
                "page": memory_view(added.page),
                "short_term_pages": added.stm_pages,
                "topic_segments": added.segments,
            }

    @tool(reads)
    def list_memories(
        ctx: Context,
        user: User = None,
        agent: Agent = None,
        kind: Annotated[KindName | None, Field(description="Only memories of this kind.")] = None,
        limit: Annotated[Count, Field(description="How many memories at most (1-100).")] = 20,
        offset: Annotated[
            int, Field(strict=True, ge=0, description="How many to skip (for paging).")
        ] = 0,
        newest_first: Annotated[bool, Field(strict=True, description="Newest first.")] = True,
    ) -> dict[str, Any]:
        """List the user's stored memories, newest first, without a query: to review what is
        remembered, or to find an id to pin or forget. Page with offset."""
        with tool_errors():
            found = scoped(ctx).scan(
                user=user,
                agent=agent,
                kind=kind,
                limit=limit,
                offset=offset,
                newest_first=newest_first,
            )
            return {"memories": [memory_view(m) for m in found], "offset": offset}

    add_structure_tools(tool, scoped)

    def persona_json(ctx: Context, user: str, agent: str | None) -> str:
        try:
            return json.dumps(scoped(ctx).persona(user=user, agent=agent), ensure_ascii=False)
        except MemorySpaceError as exc:
            raise ResourceError(f"{type(exc).__name__}: {exc}") from exc

    @server.resource(
        "memoryspace://users/{user}/persona",
        name="persona",
        description="What the conversation memory learned about a user (profile, traits, "
        "preferences, facts) from the turns logged with add_turn, as JSON.",
        mime_type="application/json",
    )
    def user_persona(user: str, ctx: Context) -> str:
        """What the conversation memory learned about a user: profile, traits, preferences,
        facts (from the turns logged with add_turn)."""
        return persona_json(ctx, user, None)

    @server.resource(
        "memoryspace://users/{user}/agents/{agent}/persona",
        name="persona_with_agent",
        description="What the conversation of a user with one agent learned about the user.",
        mime_type="application/json",
    )
    def user_agent_persona(user: str, agent: str, ctx: Context) -> str:
        """What the conversation of a user with one agent learned about the user."""
        return persona_json(ctx, user, agent)

    return server
