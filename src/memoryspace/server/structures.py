"""Routes for the agent structures: linked notes (add, search with link expansion, link,
unlink, show with history), reflection (with a dry-run plan) and reading a posted text through
a fixed-size memory. Each is a call of ``ScopedMemory`` (see ``access.structures`` for the
rights each needs)."""

from __future__ import annotations

from fastapi import APIRouter, status

from memoryspace.access import Right
from memoryspace.api import (
    MemoryOut,
    NoteIn,
    NoteLinkIn,
    NoteOut,
    NoteSearchIn,
    ReadIn,
    ReadingOut,
    ReflectIn,
    ReflectionOut,
    SearchHitOut,
)
from memoryspace.server.deps import Scoped
from memoryspace.server.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES)


@router.post("/notes", status_code=status.HTTP_201_CREATED, tags=["notes"])
def add_note(body: NoteIn, scoped: Scoped) -> MemoryOut:
    """Add a linked note (A-MEM): keywords, tags and a context are generated, it is linked by
    id to its nearest notes in the scope (and to ``links``), and those may evolve."""
    scope = scoped.placed(body.scope())
    note = scoped.add_note(
        body.content, user=scope.get("user"), agent=scope.get("agent"), **body.fields()
    )
    return MemoryOut.of(note)


@router.post("/notes/search", tags=["notes"])
def search_notes(body: NoteSearchIn, scoped: Scoped) -> list[SearchHitOut]:
    """The best notes of a scope; ``expand`` follows their links that many hops (a linked hit
    names the hit it came from in ``parts.via``)."""
    scope = scoped.visible_filters(Right.READ, {"user": body.user, "agent": body.agent})
    if scope is None:
        return []
    hits = scoped.search_notes(
        body.query,
        user=scope.get("user"),
        agent=scope.get("agent"),
        k=body.k,
        expand=body.expand,
        min_score=body.min_score,
    )
    return [SearchHitOut.of(hit) for hit in hits]


@router.get("/notes/{id}", tags=["notes"])
def show_note(id: str, scoped: Scoped) -> NoteOut:
    """A note with the memories it links to and its history (adds, evolutions, edits)."""
    return NoteOut.of(scoped.show_note(id))


@router.post("/notes/{id}/links", tags=["notes"])
def link_note(id: str, body: NoteLinkIn, scoped: Scoped) -> MemoryOut:
    """Link note ``id`` to another memory with a typed link (replacing an earlier link to it)."""
    return MemoryOut.of(scoped.link_note(id, body.target, body.type))


@router.delete("/notes/{id}/links/{target}", tags=["notes"])
def unlink_note(id: str, target: str, scoped: Scoped) -> MemoryOut:
    """Remove note ``id``'s links to ``target``."""
    return MemoryOut.of(scoped.unlink_note(id, target))


@router.post("/reflect", tags=["maintenance"])
def reflect(body: ReflectIn, scoped: Scoped) -> ReflectionOut:
    """Reflect once on a scope: merge duplicates, close superseded memories, archive stale
    ones, re-score importance, as one undoable job (actor ``reflect``). ``dry_run`` returns the
    plan only. A scope needs the write right (read for a dry run); the whole space (no scope,
    with a key of namespace ``*``) needs admin."""
    asked = {"user": body.user, "agent": body.agent}
    scope = asked
    if not scoped.access.unrestricted:  # a key of one namespace may leave it out
        scope = scoped.access.narrow(asked) or asked
    return ReflectionOut.of(
        scoped.reflect(user=scope.get("user"), agent=scope.get("agent"), dry_run=body.dry_run)
    )


@router.post("/read", tags=["read"])
def read(body: ReadIn, scoped: Scoped) -> ReadingOut:
    """Read a text of any length through a fixed-size memory (offline policy) and return what
    it kept; ``store`` also saves it as records in the scope (write right)."""
    reading = scoped.read(
        body.text,
        body.question,
        chunk_tokens=body.chunk_tokens,
        memory_tokens=body.memory_tokens,
        store=body.store,
        store_kind=body.store_kind,
        scope=body.scope(),
    )
    return ReadingOut.of(reading)
