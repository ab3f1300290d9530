"""Routes for a user's conversation memory (MemoryOS-style turns, recall, prompt, persona)
and for reading a long text through a fixed-size memory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from memoryspace.api import (
    ContextOut,
    ConversationQueryIn,
    PersonaOut,
    ReadIn,
    RetrievalOut,
    TurnIn,
    TurnOut,
)
from memoryspace.conversation import Conversation
from memoryspace.errors import Forbidden
from memoryspace.server.deps import Caller, Space
from memoryspace.server.errors import ERROR_RESPONSES
from memoryspace.server.keys import Access
from memoryspace.space import MemorySpace

router = APIRouter(responses=ERROR_RESPONSES, tags=["conversations"])

AgentName = Annotated[str | None, Query(min_length=1, max_length=256)]


def _conversation(space: MemorySpace, access: Access, user: str, agent: str | None) -> Conversation:
    """The conversation of ``user`` (with ``agent``), if the caller may see that user's memories.

    Raises:
        Forbidden: the user's namespace is not the caller's.
    """
    if not (access.allows("user", user) or access.allows("agent", agent)):
        raise Forbidden(f"this API key has no access to user {user!r}'s conversation")
    return space.conversation(user=user, agent=agent)


@router.post("/conversations/{user}/turns", status_code=201)
def add_turn(
    user: str, body: TurnIn, space: Space, access: Caller, agent: AgentName = None
) -> TurnOut:
    """Add one exchange; the oldest short-term pages move into topic segments."""
    access.require("write")
    talk = _conversation(space, access, user, agent)
    page = talk.add_turn(body.user_text, body.agent_text, body.timestamp)
    talk.flush()
    return TurnOut(page=page.id, stm=len(talk.stm), segments=len(talk.segments))


@router.post("/conversations/{user}/retrieve")
def retrieve(
    user: str, body: ConversationQueryIn, space: Space, access: Caller, agent: AgentName = None
) -> RetrievalOut:
    """What the conversation recalls for a query: pages, segments, facts and the profile."""
    access.require("read")
    return RetrievalOut.of(_conversation(space, access, user, agent).retrieve(body.query))


@router.post("/conversations/{user}/prompt")
def prompt(
    user: str, body: ConversationQueryIn, space: Space, access: Caller, agent: AgentName = None
) -> ContextOut:
    """The prompt-ready memory of the conversation for a query within a token budget."""
    access.require("read")
    talk = _conversation(space, access, user, agent)
    return ContextOut.of(talk.prompt(body.query, body.budget))


@router.get("/conversations/{user}/persona")
def persona(user: str, space: Space, access: Caller, agent: AgentName = None) -> PersonaOut:
    """What long-term memory learned about the user."""
    access.require("read")
    return PersonaOut.of(_conversation(space, access, user, agent).persona())


@router.post("/read", tags=["read"])
def read(body: ReadIn, space: Space, access: Caller) -> dict[str, Any]:
    """Read a text of any length through a fixed-size memory (offline policy) and return what
    it kept; nothing is stored."""
    access.require("read")
    reading = space.read(
        body.text,
        body.question,
        chunk_tokens=body.chunk_tokens,
        memory_tokens=body.memory_tokens,
        policy="offline",
    )
    return reading.to_dict(chunks=False)
