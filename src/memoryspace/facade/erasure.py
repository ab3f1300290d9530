"""``ErasureMixin``: ``purge``, the erasure of memories everywhere they were ever kept.

Part of ``MemorySpace`` (see ``memoryspace.space``); the state it uses is declared in
``memoryspace.facade.state``. The store erases what it holds (live rows, full text, log
payloads, checkpoints, free pages, WAL: ``memoryspace.store.sqlite_purge`` and
``memoryspace.store.postgres.purge``); this part erases what the space holds beside it: the hot
tier (through the tiered store), context windows, the vector index (rebuilt without the purged
keys and saved over the old file) and the embedding cache's entries for the purged texts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from memoryspace import validate
from memoryspace.errors import InvalidInput
from memoryspace.facade.state import SpaceState
from memoryspace.models import Filter
from memoryspace.store.erasure import PurgeReport


class ErasureMixin(SpaceState):
    """Erasure: ``purge``."""

    def purge(
        self,
        ids: str | Sequence[str] | None = None,
        *,
        user: str | None = None,
        agent: str | None = None,
        session: str | None = None,
        filter: Filter | Mapping[str, Any] | None = None,
        actor: str | None = None,
        dry_run: bool = False,
    ) -> PurgeReport:
        """Erase memories everywhere: unlike ``delete``, nothing of their content stays in
        ``history()``, ``changes()``, ``as_of()``, checkpoints, indexes, caches or the bytes of
        the database's files. Their log entries stay, as tombstones (LSN, id, time, op, actor),
        and each gets a ``purge`` entry, so ``history(id)`` says when and by whom.

        Selects ``ids`` (live or deleted earlier), plus every record ever stored in the scope
        ``user`` / ``agent`` / ``session`` (deleted ones too, found through the log). With
        ``filter`` (a ``Filter`` or its fields as a dict, e.g. ``{"kind": "fact"}``) the scope
        is narrowed to the live records it matches (archived and expired ones included).
        ``dry_run=True`` returns the report's ``ids`` and erases nothing.

        Raises:
            InvalidInput: no selector at all, or a filter that selects everything (a purge of
                the whole space must name what it erases); a bad value.
            NotFound: one of ``ids`` was never stored; nothing is erased.
            ReadOnly: a read-only view.
        """
        self._writable()
        chosen = [] if ids is None else validate.ids(ids)
        user = validate.scope("user", user)
        agent = validate.scope("agent", agent)
        session = validate.scope("session", session)
        actor = validate.actor(actor)
        dry_run = validate.flag("dry_run", dry_run)
        flt = _filter(filter, user, agent, session)
        if not chosen and flt is None and (user, agent, session) == (None, None, None):
            raise InvalidInput(
                "purge needs ids or a selector: user=, agent=, session= or filter= (e.g. "
                'purge(user="ana")); it never erases the whole space by default'
            )
        texts: set[str] = set()
        for id in chosen:
            texts.update(_contents(self, id))  # NotFound for an id never stored
        if flt is not None:
            chosen += [m.id for m in self.store.scan(flt, now=self._clock())]
        elif (user, agent, session) != (None, None, None):
            chosen += self.store.ever_stored(user, agent, session)
        chosen = list(dict.fromkeys(chosen))
        if dry_run:
            return PurgeReport(ids=tuple(chosen))
        if not chosen:
            return PurgeReport()
        for id in chosen:
            texts.update(_contents(self, id))
        report = self.store.purge(chosen, texts=sorted(texts), actor=actor)
        self._free_windows(chosen)
        files = list(report.files)
        # The vector index is rebuilt without the purged keys (an ANN graph may keep removed
        # vectors in its file) and saved over the old one, whose payload is then deleted.
        self.index.rebind(dimension=self.embedder.dimension, model_id=self.embedder.model_id)
        if self.backing.writable_on_disk() and self.index.save() and self.backing.path:
            files.append(self.backing.path + ".vectors")
        cached = 0
        cache = getattr(self.embedder, "cache", None)
        if cache is not None and hasattr(cache, "delete_many"):
            cached = int(cache.delete_many(self.embedder.model_id, sorted(texts)))
        return dataclasses.replace(report, embedding_cache_entries=cached, files=tuple(files))


def _contents(space: SpaceState, id: str) -> set[str]:
    """Every content the record ``id`` ever had (from its log; live content included)."""
    out: set[str] = set()
    for change in space.store.history(validate.memory_id(id)):
        for state in (change.before, change.after):
            if state is not None:
                out.add(state.content)
    return out


def _filter(
    given: Filter | Mapping[str, Any] | None,
    user: str | None,
    agent: str | None,
    session: str | None,
) -> Filter | None:
    """The live-record filter ``purge`` scans with (scope merged in, archived and expired
    records included), or ``None`` without ``filter``.

    Raises:
        InvalidInput: a filter of the wrong type, or one that selects everything.
    """
    if given is None:
        return None
    if isinstance(given, Mapping):
        flt = Filter.build(**given)
    elif isinstance(given, Filter):
        flt = given
    else:
        raise InvalidInput(
            f"filter must be a Filter or a dict of filter fields, got {type(given).__name__}"
        )
    flt = dataclasses.replace(
        flt,
        user=user if user is not None else flt.user,
        agent=agent if agent is not None else flt.agent,
        session=session if session is not None else flt.session,
        include_expired=True,
        include_archived=True,
    )
    if not flt.selects:
        raise InvalidInput(
            "this filter selects every memory; narrow it (user, session, kind, tags, ...) - "
            "purge never erases the whole space at once"
        )
    return flt
