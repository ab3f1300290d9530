"""``memoryspace conversation ...``: a MemoryOS-style conversation kept in a database.

Each command opens the space, resumes ``--user``'s conversation from its records (STM, MTM
segments, LPM) and closes it again, so turns added by one command are retrieved by the next.
With ``MEMORYSPACE_LLM_URL`` and ``MEMORYSPACE_LLM_MODEL`` set, the text tasks ask that model;
otherwise they run offline.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from memoryspace.api import ContextOut, PersonaOut, RetrievalOut, TurnOut
from memoryspace.cli.common import DEFAULT_DB, Db, Embedder, Json, console, emit, errors, opened
from memoryspace.conversation import Conversation
from memoryspace.errors import InvalidInput

conversation = typer.Typer(
    help="A MemoryOS-style conversation (short-, mid- and long-term memory) in the database.",
    no_args_is_help=True,
)

User = Annotated[str, typer.Option("--user", help="Whose conversation.")]
Agent = Annotated[str | None, typer.Option("--agent", help="The agent's id.")]


@conversation.command("add-turn")
def add_turn(
    user_text: Annotated[str, typer.Argument(help="What the user said.")],
    agent_text: Annotated[str, typer.Argument(help="What the agent answered.")] = "",
    user: User = "",
    agent: Agent = None,
    timestamp: Annotated[
        float | None, typer.Option("--time", help="Unix time of the exchange (default now).")
    ] = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Add one exchange; the oldest short-term pages move into topic segments."""
    with resumed(db, embedder, user, agent) as talk:
        page = talk.add_turn(user_text, agent_text, timestamp)
        talk.flush()
        shape = TurnOut(page=page.id, stm=len(talk.stm), segments=len(talk.segments))
    if as_json:
        emit(shape.to_json())
        return
    console.print(
        f"added page {shape.page}: {shape.stm} pages in short-term memory, "
        f"{shape.segments} topic segments"
    )


@conversation.command("retrieve")
def retrieve(
    query: str,
    user: User = "",
    agent: Agent = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """What the conversation recalls for a query: pages (short- and mid-term) and facts."""
    with resumed(db, embedder, user, agent) as talk:
        found = talk.retrieve(query)
    pages = found.ranked_pages()
    if as_json:
        emit(RetrievalOut.of(found).to_json())
        return
    table = Table("score", "page", "content")
    for page in pages:
        score = found.scores.get(page.id)
        table.add_row("-" if score is None else f"{score:.3f}", page.id, page.content)
    console.print(table)
    for fact in found.facts:
        console.print(f"fact: {fact.content}")


@conversation.command("prompt")
def prompt(
    query: str,
    user: User = "",
    agent: Agent = None,
    budget: Annotated[int, typer.Option(help="Token budget.")] = 2000,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """The prompt-ready memory for a query within a token budget."""
    with resumed(db, embedder, user, agent) as talk:
        assembled = talk.prompt(query, budget)
    if as_json:
        emit(ContextOut.of(assembled).to_json())
        return
    sys.stdout.write(assembled.text + "\n")
    errors.print(f"{assembled.tokens} of {assembled.budget} tokens, {len(assembled.blocks)} blocks")


@conversation.command("consolidate")
def consolidate(
    user: User = "",
    agent: Agent = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """End-of-session sweep: learn from every page not yet in long-term memory, hot or not."""
    with resumed(db, embedder, user, agent) as talk:
        stored = talk.consolidate()
    emit({"facts": stored}) if as_json else console.print(f"{stored} new facts in long-term memory")


@conversation.command("persona")
def persona(
    user: User = "",
    agent: Agent = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """What long-term memory learned about the user."""
    with resumed(db, embedder, user, agent) as talk:
        learned = talk.persona()
    if as_json:
        emit(PersonaOut.of(learned).to_json())
        return
    sys.stdout.write(learned.describe() + "\n")


@contextmanager
def resumed(db: str, embedder: str, user: str, agent: str | None) -> Iterator[Conversation]:
    """``user``'s conversation with ``agent``, resumed from the database at ``db``."""
    if not user.strip():
        raise InvalidInput("name the conversation's user with --user NAME")
    with opened(db, embedder, create=True) as ms:
        yield ms.conversation(user=user, agent=agent)
