"""Dialogue pages: one ``turn`` memory per exchange of the user and the agent.

A page's content is ``"<user>: … / <agent>: …"`` on two lines; its ``meta`` holds the raw texts,
the meta-chain (``chain``: the previous page's id when the dialogue is continuous, and
``chain_summary``: a running summary of the chain), its keywords, any caller ``dia_ids``
(benchmark turn ids), the role marker ``page: true``, and its typed state under
``meta["conversation"]`` (short-term, mid-term segment or archived, and its long-term-memory
state; see ``memoryspace.conversation.state``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memoryspace.conversation.state import (
    STATE_KEY,
    PageState,
    Place,
    is_page,
    is_segment,
    page_state,
    segment_state,
)
from memoryspace.errors import InvalidInput
from memoryspace.heapview import HeapRecord
from memoryspace.models import Memory


def page_content(user_label: str, user_text: str, agent_label: str, agent_text: str) -> str:
    """The text a page stores (and is embedded and searched by): one line per speaker.

    A side with no text is left out, so a lone user message is just ``"<user>: …"``.
    """
    lines = []
    if user_text:
        lines.append(f"{user_label}: {user_text}")
    if agent_text:
        lines.append(f"{agent_label}: {agent_text}")
    return "\n".join(lines)


def page_meta(
    user_text: str,
    agent_text: str,
    *,
    chain: str | None,
    chain_summary: str,
    keywords: Sequence[str],
    dia_ids: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``meta`` of a new page: in short-term memory, in no segment yet."""
    meta: dict[str, Any] = dict(extra or {})
    meta.update(
        {
            "page": True,
            "user_text": user_text,
            "agent_text": agent_text,
            "chain": chain,
            "chain_summary": chain_summary,
            STATE_KEY: PageState().to_meta(),
            "keywords": list(keywords),
            "dia_ids": [str(d) for d in dia_ids],
        }
    )
    return meta


def is_archived(memory: Memory) -> bool:
    """Whether ``memory`` (a page or segment) was archived by mid-term eviction."""
    if is_page(memory):
        return page_state(memory).place is Place.ARCHIVED
    return is_segment(memory) and segment_state(memory).archived


def gc_roots(memories: Sequence[HeapRecord]) -> list[str]:
    """The records a conversation keeps alive itself (a GC root rule, see
    ``memoryspace.gc.roots``): its short-term pages and its live mid-term segments, which it
    evicts by heat on its own. Their pages stay alive through the segments' strong links."""
    return [m.id for m in memories if _rooted(m)]


def _rooted(memory: HeapRecord) -> bool:
    try:
        if is_page(memory):
            return page_state(memory).place is Place.STM
        return is_segment(memory) and not segment_state(memory).archived
    except InvalidInput:
        return True  # a malformed state is kept: a collection must never guess it away


def page_keywords(memory: Memory) -> set[str]:
    """The page's keywords as a set (empty for records that are not pages)."""
    return {str(word) for word in memory.meta.get("keywords") or ()}


def page_dia_ids(memory: Memory) -> list[str]:
    """The caller's turn ids kept on the page, in dialogue order."""
    return [str(d) for d in memory.meta.get("dia_ids") or ()]
