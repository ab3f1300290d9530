"""Routes for a user's conversation memory (MemoryOS-style turns, recall, prompt, persona),
each through ``ScopedMemory`` (the user's or agent's namespace must be the caller's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from memoryspace.access import Right
from memoryspace.api import (
    ContextOut,
    ConversationQueryIn,
    PersonaOut,
    RetrievalOut,
    TurnIn,
    TurnOut,
)
from memoryspace.server.deps import Scoped
from memoryspace.server.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["conversations"])

AgentName = Annotated[str | None, Query(min_length=1, max_length=256)]


@router.post("/conversations/{user}/turns", status_code=201)
def add_turn(user: str, body: TurnIn, scoped: Scoped, agent: AgentName = None) -> TurnOut:
    """Add one exchange; the oldest short-term pages move into topic segments."""
    added = scoped.add_turn(
        user=user,
        agent=agent,
        user_text=body.user_text,
        agent_text=body.agent_text,
        timestamp=body.timestamp,
    )
    return TurnOut(page=added.page.id, stm=added.stm_pages, segments=added.segments)


@router.post("/conversations/{user}/retrieve")
def retrieve(
    user: str, body: ConversationQueryIn, scoped: Scoped, agent: AgentName = None
) -> RetrievalOut:
    """What the conversation recalls for a query: pages, segments, facts and the profile."""
    talk = scoped.conversation(Right.READ, user=user, agent=agent)
    return RetrievalOut.of(talk.retrieve(body.query))


@router.post("/conversations/{user}/prompt")
def prompt(
    user: str, body: ConversationQueryIn, scoped: Scoped, agent: AgentName = None
) -> ContextOut:
    """The prompt-ready memory of the conversation for a query within a token budget."""
    talk = scoped.conversation(Right.READ, user=user, agent=agent)
    return ContextOut.of(talk.prompt(body.query, body.budget))


@router.get("/conversations/{user}/persona")
def persona(user: str, scoped: Scoped, agent: AgentName = None) -> PersonaOut:
    """What long-term memory learned about the user."""
    return PersonaOut.of(scoped.conversation(Right.READ, user=user, agent=agent).persona())
