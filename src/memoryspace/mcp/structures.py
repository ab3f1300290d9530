"""The MCP tools of the agent structures: linked notes (``add_note``, ``search_notes``,
``show_note``, ``link_notes``), reflection (``reflect``, a dry run unless asked) and reading
a long text through a fixed-size memory (``read_document``). Each wraps one ``ScopedMemory``
call; the rights each needs are in ``memoryspace.access.structures``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from memoryspace.access import ScopedMemory
from memoryspace.access.structures import MAX_READ_CHARS
from memoryspace.mcp.schema import (
    Agent,
    MemoryId,
    Query,
    ToolDecorator,
    User,
    memory_view,
    tool_errors,
)
from memoryspace.models import SearchHit
from memoryspace.notes.notes import SEARCH_EXPAND

STRUCTURE_TOOLS = (
    "add_note",
    "search_notes",
    "show_note",
    "link_notes",
    "reflect",
    "read_document",
)

LinkTypeName = Literal[
    "related", "supports", "contradicts", "follows", "derived_from", "supersedes"
]
Budget = Annotated[int, Field(strict=True, ge=64, le=100_000)]


def hit_view(hit: SearchHit) -> dict[str, Any]:
    """A note hit: the note, its score, and the note it was reached from by a link."""
    return {
        **memory_view(hit.memory),
        "score": hit.score,
        "via": hit.parts.via,
        "via_link": hit.parts.via_link,
    }


def add_structure_tools(tool: ToolDecorator, scoped: Callable[[Context], ScopedMemory]) -> None:
    """Register the structure tools with ``tool``; ``scoped(ctx)`` is the request's session."""
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False)
    reads = ToolAnnotations(read_only_hint=True)

    @tool(writes)
    def add_note(
        content: Annotated[
            str,
            Field(strict=True, min_length=1, description="The note: an idea, observation or fact."),
        ],
        ctx: Context,
        user: User = None,
        agent: Agent = None,
        tags: Annotated[
            list[str], Field(strict=True, max_length=32, description="Labels of your own.")
        ] = [],  # noqa: B006  (pydantic copies defaults; the schema shows [])
        links: Annotated[
            list[str],
            Field(strict=True, max_length=32, description="Ids of memories it relates to."),
        ] = [],  # noqa: B006
    ) -> dict[str, Any]:
        """Store a note in the user's knowledge graph: it gets keywords, tags and a one-line
        context, and is linked by id to the most similar earlier notes (which may gain tags
        from it). Use it for knowledge you will want to explore by association later (ideas,
        observations, research findings); use add_memory for a standalone fact. Returns the
        note with the ids it was linked to."""
        with tool_errors():
            note = scoped(ctx).add_note(content, user=user, agent=agent, tags=tags, links=links)
            return {
                **memory_view(note),
                "links": [{"id": link.id, "type": str(link.type)} for link in note.links],
            }

    @tool(reads)
    def search_notes(
        query: Query,
        ctx: Context,
        user: User = None,
        agent: Agent = None,
        k: Annotated[int, Field(strict=True, ge=1, le=100, description="Best notes (1-100).")] = 10,
        expand: Annotated[
            int,
            Field(
                strict=True,
                ge=0,
                le=3,
                description="Link hops to follow from them (0-3); 1 adds the notes they link.",
            ),
        ] = SEARCH_EXPAND,
        min_score: Annotated[
            float | None,
            Field(strict=True, ge=0, le=1, description="Relevance 0..1 a hit needs."),
        ] = None,
    ) -> dict[str, Any]:
        """Search the user's notes (those stored with add_note): the best notes, best first,
        each with a score in [0, 1]; with expand=1 also the notes linked to them, each naming
        the note it was reached from in "via" (use it to explore around a topic). Use
        search_memory for memories stored with add_memory or add_turn."""
        with tool_errors():
            hits = scoped(ctx).search_notes(
                query, user=user, agent=agent, k=k, expand=expand, min_score=min_score
            )
            return {"hits": [hit_view(hit) for hit in hits]}

    @tool(reads)
    def show_note(id: MemoryId, ctx: Context) -> dict[str, Any]:
        """One note with the memories it links to (type and content of each; content null
        when the target is gone) and its history (added, evolved by later notes, edited).
        Use it to explain how a piece of knowledge connects to others."""
        with tool_errors():
            view = scoped(ctx).show_note(id)
            return {
                **memory_view(view.note),
                "links": [
                    {
                        "id": link.id,
                        "type": str(link.type),
                        "strong": link.strong,
                        "content": None if target is None else target.content,
                    }
                    for link, target in view.links
                ],
                "history": [
                    {"lsn": c.lsn, "time": c.time, "op": str(c.op), "actor": c.actor}
                    for c in view.history
                ],
            }

    @tool(writes)
    def link_notes(
        source: Annotated[
            str, Field(strict=True, min_length=1, description="The id of the note to link from.")
        ],
        target: Annotated[
            str, Field(strict=True, min_length=1, description="The id of the memory it links to.")
        ],
        ctx: Context,
        type: Annotated[
            LinkTypeName,
            Field(
                description="related, supports (target is evidence), contradicts, follows, "
                "derived_from, supersedes (source replaces target)."
            ),
        ] = "related",
        remove: Annotated[
            bool, Field(strict=True, description="True removes the links instead.")
        ] = False,
    ) -> dict[str, Any]:
        """Connect a note to another memory with a typed link (e.g. a note that supports or
        contradicts another), or remove its links to it with remove=true. Returns the note."""
        with tool_errors():
            session = scoped(ctx)
            if remove:
                note = session.unlink_note(source, target)
            else:
                note = session.link_note(source, target, type)
            links = [{"id": link.id, "type": str(link.type)} for link in note.links]
            return {**memory_view(note), "links": links}

    @tool(ToolAnnotations(read_only_hint=False, destructive_hint=True))
    def reflect(
        ctx: Context,
        user: User = None,
        agent: Agent = None,
        dry_run: Annotated[
            bool,
            Field(strict=True, description="True (default): only return the plan. False: apply."),
        ] = True,
    ) -> dict[str, Any]:
        """Tidy the user's memories: merge duplicates, close facts that a newer one replaced
        (a moved date, a new job, a new city) so only the current value is recalled, archive
        stale plans, re-score importance from use. By default only returns the plan, each
        step with its reason; call again with dry_run=false to apply it. Every change is
        logged and can be undone."""
        with tool_errors():
            result = scoped(ctx).reflect(user=user, agent=agent, dry_run=dry_run)
            return {
                "dry_run": result.dry_run,
                "counts": result.counts,
                "plan": result.plan.describe(),
                "applied": len(result.applied),
                "skipped": len(result.skipped),
                "lsn_before": result.lsn_before,
            }

    @tool(reads)
    def read_document(
        text: Annotated[
            str,
            Field(
                strict=True,
                min_length=1,
                max_length=MAX_READ_CHARS,
                description="The long text to read (up to 1,000,000 characters).",
            ),
        ],
        ctx: Context,
        question: Annotated[
            str | None,
            Field(strict=True, min_length=1, description="What you need from it, if known."),
        ] = None,
        memory_tokens: Annotated[
            Budget, Field(description="Size of the memory to keep (tokens).")
        ] = 1024,
        chunk_tokens: Annotated[Budget, Field(description="Tokens read per step.")] = 2048,
    ) -> dict[str, Any]:
        """Read a text too long for your context (a document, a log, a transcript) chunk by
        chunk, keeping in a fixed-size memory only what matters for the question (or the most
        salient sentences without one). Returns that memory, a few hundred tokens, with the
        chunk and offset each sentence came from. Nothing is stored."""
        with tool_errors():
            reading = scoped(ctx).read(
                text, question, chunk_tokens=chunk_tokens, memory_tokens=memory_tokens
            )
            return {
                "memory": reading.memory,
                "kept": [
                    {"text": s.text, "chunk": s.chunk, "offset": s.offset} for s in reading.kept
                ],
                "chunks": len(reading.chunks),
                "tokens_read": reading.tokens_read,
            }
