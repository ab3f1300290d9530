"""``Notes``: A-MEM's linked, evolving notes over the memory interface of a space.

A note is a memory of kind ``note`` whose meta holds its ``keywords`` and one-sentence
``context`` (its ``tags`` are the record's tags). Adding one:

1. describes it (``Enricher``: offline rules, or a chat model when one is configured);
2. embeds its content with its keywords, tags and context (one vector, stored with the note);
3. finds the ``k`` notes of the same scope that best match its content, scoring at least
   ``link_min_score``;
4. stores it linked **by id** to them (``related``, weak) plus any links the caller gives;
5. evolves each neighbour: a link back to the new note (up to ``MAX_LINKS``), the new note's
   tags that the neighbour's own text mentions, and a context re-derived from its keywords and
   tags. Each evolution is an ordinary logged patch (actor ``notes``), made only if the
   neighbour did not change since it was read, so it never overwrites a concurrent edit.

Links are mark-sweep edges: strong ones (``supports``, ``derived_from``) keep their targets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from memoryspace import validate
from memoryspace.errors import Conflict, InvalidInput, NotFound
from memoryspace.models import Change, Link, Memory, SearchHit, parse_link, parse_link_type
from memoryspace.notes.enrich import Enricher, NoteFacets
from memoryspace.validate import Vector

NOTE = "note"
ACTOR = "notes"
SEARCH_EXPAND = 0
"""Link hops ``Notes.search`` (and the notes route, tool and command) follow by default. Zero:
on LoCoMo a linked note ranked in the top 10 pushed out a direct hit more often than it brought
evidence (see the README, "Notes and reflection"); ``expand=1`` opts in."""
MAX_LINKS = 12
"""Evolution stops adding links back to a note that has this many: a popular note would
otherwise collect one per later neighbour, and every read of it would pay for them all."""


class NoteSpace(Protocol):
    """What notes need from a space: the facade's public reads and writes."""

    def add(self, content: str, *, dedupe: bool | None = None, **fields: Any) -> Memory: ...

    def update(
        self, id: str, *, actor: str | None = None, if_version: int | None = None, **fields: Any
    ) -> Memory: ...

    def get(self, id: str) -> Memory: ...

    def get_many(self, ids: Sequence[str]) -> list[Memory]: ...

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        min_score: float | None = None,
        touch: bool = True,
        expand: int = 0,
        **filters: Any,
    ) -> list[SearchHit]: ...

    def history(self, id: str) -> list[Change]: ...


@dataclass(frozen=True, slots=True)
class NoteView:
    """A note with the notes it links to (``None`` where the target is gone), the notes that
    link to it among those, and its logged history (oldest first)."""

    note: Memory
    links: tuple[tuple[Link, Memory | None], ...]
    history: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "note": self.note.to_dict(),
            "links": [
                {**link.to_dict(), "content": None if target is None else target.content}
                for link, target in self.links
            ],
            "history": [change.to_dict() for change in self.history],
        }


class Notes:
    """The linked notes of one scope (``user``, ``agent``) of a space.

    ``k`` neighbours scoring at least ``link_min_score`` are linked to each new note; with
    ``evolve`` they are updated too (see the module docstring).

    Raises:
        InvalidInput: ``k`` or ``link_min_score`` out of range.
    """

    def __init__(
        self,
        space: NoteSpace,
        *,
        embed: Callable[[Sequence[str]], Vector],
        enricher: Enricher,
        user: str | None = None,
        agent: str | None = None,
        k: int = 5,
        link_min_score: float = 0.35,
        evolve: bool = True,
    ) -> None:
        self._space = space
        self._embed = embed
        self.enricher = enricher
        self.user, self.agent = user, agent
        self.k = validate.integer("k", k, low=0, high=100)
        self.link_min_score = validate.min_score(link_min_score)
        self.evolve = validate.flag("evolve", evolve)

    @property
    def scope(self) -> dict[str, str | None]:
        return {"user": self.user, "agent": self.agent}

    def add(
        self,
        content: str,
        *,
        links: Iterable[Link | Mapping[str, Any] | str] = (),
        tags: Sequence[str] = (),
        meta: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Memory:
        """Add a note, link it to its neighbours and evolve them; returns the stored note.

        ``links`` are explicit typed links (``Link``, ``{"id", "type"}`` or a bare id:
        ``related``); ``tags`` are added to the generated ones; other fields (``session``,
        ``timestamp``, ``importance``, ``pinned``, ``ttl``, ``id``) go to ``add``.

        Raises:
            InvalidInput: bad content or field, or a link to a memory that does not exist.
        """
        content = validate.content(content, limit=1_000_000)
        given = [parse_link(link, kind=NOTE) for link in links]
        missing = {link.id for link in given} - {
            m.id for m in self._space.get_many([link.id for link in given])
        }
        if missing:
            raise InvalidInput(f"cannot link to {sorted(missing)}: no such memory; add it first")
        facets = self.enricher.describe(content)
        all_tags = tuple(dict.fromkeys([*validate.strings("tags", list(tags)), *facets.tags]))
        facets = NoteFacets(facets.keywords, all_tags, facets.context)
        text = embedding_text(content, facets)
        vector = self._embed([text])[0]
        neighbours = self._neighbours(content)
        linked = {link.id for link in given}
        auto = [Link.to(m.id) for m in neighbours if m.id not in linked]
        note_meta = {**(dict(meta) if meta else {}), "keywords": list(facets.keywords)}
        note_meta["context"] = facets.context
        note = self._space.add(
            content,
            kind=NOTE,
            tags=list(all_tags),
            links=[link.to_dict() for link in [*given, *auto]],
            meta=note_meta,
            vector=vector,
            user=self.user,
            agent=self.agent,
            **fields,
        )
        if self.evolve and note.id not in {m.id for m in neighbours}:
            for neighbour in neighbours:
                self._evolve(neighbour, note)
        return note

    def _neighbours(self, content: str) -> list[Memory]:
        if self.k == 0:
            return []
        hits = self._space.search(
            content[:2000],
            k=self.k,
            min_score=self.link_min_score,
            touch=False,
            kind=NOTE,
            user=self.user,
            agent=self.agent,
        )
        return [hit.memory for hit in hits]

    def _evolve(self, neighbour: Memory, note: Memory) -> None:
        """Link ``neighbour`` back to ``note`` and give it the tags of ``note`` its text
        mentions; retried once if the neighbour changed meanwhile, else left as it is."""
        for _ in range(2):
            patch = evolution(neighbour, note, self.enricher)
            if not patch:
                return
            try:
                self._space.update(neighbour.id, actor=ACTOR, if_version=neighbour.version, **patch)
                return
            except Conflict:
                neighbour = self._space.get(neighbour.id)
            except NotFound:
                return

    def link(self, source: str, target: str, type: str = "related") -> Memory:
        """Link note ``source`` to memory ``target`` with ``type`` (its default strength).

        Raises:
            NotFound: either id does not exist.
            InvalidInput: an unknown type or a link from a note to itself.
        """
        kind = parse_link_type(type)
        if source == target:
            raise InvalidInput("a note cannot link to itself; pick two different ids")
        self._space.get(target)
        note = self._space.get(source)
        kept = [link for link in note.links if link.id != target]
        links = [*kept, Link.to(target, kind)]
        return self._space.update(
            source,
            links=[link.to_dict() for link in links],
            actor=ACTOR,
            if_version=note.version,
        )

    def unlink(self, source: str, target: str) -> Memory:
        """Remove every link from ``source`` to ``target``.

        Raises:
            NotFound: ``source`` does not exist or does not link to ``target``.
        """
        note = self._space.get(source)
        kept = [link for link in note.links if link.id != target]
        if len(kept) == len(note.links):
            raise NotFound(f"{source!r} has no link to {target!r}; see show({source!r})")
        return self._space.update(
            source,
            links=[link.to_dict() for link in kept],
            actor=ACTOR,
            if_version=note.version,
        )

    def show(self, id: str) -> NoteView:
        """A note with its linked memories and its history.

        Raises:
            NotFound: no memory has that id.
        """
        note = self._space.get(id)
        targets = {m.id: m for m in self._space.get_many([link.id for link in note.links])}
        return NoteView(
            note=note,
            links=tuple((link, targets.get(link.id)) for link in note.links),
            history=tuple(self._space.history(id)),
        )

    def history(self, id: str) -> list[Change]:
        """Every logged change of note ``id``, oldest first (adds, evolutions, edits)."""
        return self._space.history(id)

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        expand: int = SEARCH_EXPAND,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """The ``k`` best notes of this scope for ``query``; ``expand`` follows their links
        that many hops (a hit found by a link says so in ``parts.via`` / ``via_link``); none
        by default (``SEARCH_EXPAND``)."""
        return self._space.search(
            query,
            k=k,
            expand=expand,
            min_score=min_score,
            kind=NOTE,
            user=self.user,
            agent=self.agent,
        )


def embedding_text(content: str, facets: NoteFacets) -> str:
    """What a note's vector embeds: its content, keywords, tags and context."""
    parts = [content]
    if facets.keywords:
        parts.append("Keywords: " + ", ".join(facets.keywords))
    if facets.tags:
        parts.append("Tags: " + ", ".join(facets.tags))
    parts.append(facets.context)
    return "\n".join(parts)


def evolution(neighbour: Memory, note: Memory, enricher: Enricher) -> dict[str, Any]:
    """The patch that evolves ``neighbour`` after ``note`` linked to it (empty: nothing to do):
    a ``related`` link back (unless it has ``MAX_LINKS``), the note's tags that the
    neighbour's content or keywords mention, and, when its tags grew, its context re-derived."""
    patch: dict[str, Any] = {}
    if note.id not in neighbour.link_ids() and len(neighbour.links) < MAX_LINKS:
        links = [*neighbour.links, Link.to(note.id)]
        patch["links"] = [link.to_dict() for link in links]
    raw = neighbour.meta.get("keywords")
    keywords = [str(k) for k in raw] if isinstance(raw, list) else []
    text = (neighbour.content + " " + " ".join(keywords)).lower()
    gained = [t for t in note.tags if t not in neighbour.tags and t.replace("-", " ") in text]
    if gained:
        tags = [*neighbour.tags, *gained]
        patch["tags"] = tags
        context = enricher.context(neighbour.content, keywords, tags)
        patch["meta"] = {**neighbour.meta, "context": context}
    return patch
