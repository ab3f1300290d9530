"""``StructuresMixin``: the narrow memory interface agent structures use, the structures
themselves (conversation, notes, reader) and import/export.

Part of ``MemorySpace`` (see ``memoryspace.space``); the state it uses is declared in
``memoryspace.facade.state``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from memoryspace import validate
from memoryspace.errors import InvalidInput, NotFound
from memoryspace.facade.state import SpaceState
from memoryspace.profiler import READ
from memoryspace.telemetry import traced
from memoryspace.validate import Vector

if TYPE_CHECKING:
    from memoryspace.conversation import Conversation, ConversationSettings
    from memoryspace.llm.processors import Processors
    from memoryspace.notes import Notes
    from memoryspace.reader import ChunkStats, Reading, ReadingPolicy
    from memoryspace.transfer import ImportResult, OnConflict

log = logging.getLogger("memoryspace")


class StructuresMixin(SpaceState):
    """The narrow memory interface agent structures use, the structures themselves
    (conversation, notes, reader) and import/export."""

    def now(self) -> float:
        """This space's clock, in Unix seconds."""
        return self._clock()

    def record_use(self, ids: Sequence[str], *, when: float | None = None) -> None:
        """Count one use of each existing memory among ``ids`` (as a search hit's), batched."""
        self._usable()
        keys = self._keys_of(validate.id_list(ids))
        self.store.touch(list(keys.values()), self._clock() if when is None else float(when))

    def embed(self, texts: Sequence[str]) -> Vector:
        """This space's embedder's unit vectors for ``texts``."""
        return self.embedder.embed(list(texts))

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, Vector]:
        """The vectors stored with the memories among ``ids``."""
        self._usable()
        keys = self._keys_of(validate.id_list(ids))
        found = self.store.vectors(list(keys.values()))
        return {id: found[key] for id, key in keys.items() if key in found}

    def _keys_of(self, ids: Sequence[str]) -> dict[str, int]:
        keys = {}
        for id in ids:
            try:
                keys[id] = self.store.key_of(id)
            except NotFound:
                continue  # deleted meanwhile: nothing to count or read
        return keys

    def conversation(
        self,
        *,
        user: str,
        agent: str | None = None,
        settings: ConversationSettings | None = None,
        processors: Processors | None = None,
    ) -> Conversation:
        """The MemoryOS-style memory of ``user``'s dialogue with ``agent`` (STM, MTM, LPM).

        Its state lives in this space as ordinary records and is rebuilt on each call, so a
        reopened space resumes it. ``processors`` default to ``self.processors()``: the offline
        ones, or a model when ``MEMORYSPACE_LLM_URL`` is set.

        Raises:
            InvalidInput: an empty ``user`` or bad settings.
        """
        from memoryspace.conversation import Conversation, ConversationSettings

        self._usable()
        user, agent = validate.name("user", user), validate.scope("agent", agent)
        if settings is not None and not isinstance(settings, ConversationSettings):
            raise InvalidInput("settings must be a ConversationSettings or None")
        if processors is None:
            processors = self.processors()
        return Conversation(
            self._facade, user=user, agent=agent, settings=settings, processors=processors
        )

    def processors(self) -> Processors:
        """The text processors this space's conversations use by default, made once.

        ``LLMProcessors`` over the OpenAI-compatible model ``MEMORYSPACE_LLM_URL`` /
        ``MEMORYSPACE_LLM_MODEL`` / ``MEMORYSPACE_LLM_API_KEY`` name (falling back to the offline
        processors whenever a call fails), else ``OfflineProcessors`` (no calls, the default).

        Raises:
            InvalidInput: the URL is set but the model is not, or a value is malformed.
        """
        from memoryspace.llm import LLMProcessors, OfflineProcessors, llm_from_env

        with self._processors_lock:
            if self._processors is None:
                llm = llm_from_env()
                self._processors = LLMProcessors(llm) if llm is not None else OfflineProcessors()
            return self._processors

    def notes(self, *, user: str | None = None, agent: str | None = None, **options: Any) -> Notes:
        """A-MEM linked notes of the scope (``user``, ``agent``); ``options``: ``k``,
        ``link_min_score``, ``evolve``. A model describes notes when one is configured
        (``MEMORYSPACE_LLM_URL``), else the offline rules do (see ``memoryspace.notes``).

        Raises:
            InvalidInput: a bad scope or option.
        """
        from memoryspace.notes import Notes, make_enricher

        self._usable()
        user, agent = validate.scope("user", user), validate.scope("agent", agent)
        enricher = make_enricher(self.processors())
        return Notes(
            self._facade,
            embed=self.embedder.embed,
            enricher=enricher,
            user=user,
            agent=agent,
            **options,
        )

    @traced("memoryspace.read")
    def read(
        self,
        source: object,
        question: str | None = None,
        *,
        chunk_tokens: int = 2048,
        memory_tokens: int = 1024,
        policy: ReadingPolicy | str | None = None,
        store: bool = False,
        store_kind: Literal["working", "summary"] = "working",
        progress: Callable[[int, int | None], None] | None = None,
        **scope: Any,
    ) -> Reading:
        """Read ``source`` (a string, a path or any iterable of text) of any length through a
        fixed-size memory overwritten after each chunk; see ``memoryspace.reader.read``.

        ``policy`` is ``"offline"`` (default, with this space's embedder), ``"llm"`` (this
        space's model, see ``processors()``) or a ``ReadingPolicy``. Each chunk's counters go
        to the profiler (event ``read``) and the totals to ``stats()["counters"]``. With
        ``store=True`` the final memory is saved, linked to a ``note`` describing the source:
        one ``working`` record per kept sentence, or one ``summary`` (``store_kind``); ``scope``
        (``user``, ``agent``, ``session``) applies to them. Their ids are in ``records``.

        Raises:
            InvalidInput: a bad source, question, budget, policy or scope.
            ReadOnly: ``store=True`` on a read-only view.
        """
        from memoryspace.reader import read, resolve_policy
        from memoryspace.reader.store import save_reading

        if store:
            self._writable()
        else:
            self._usable()
        if store_kind not in ("working", "summary"):
            raise InvalidInput(f"store_kind must be 'working' or 'summary', got {store_kind!r}")
        unknown = sorted(set(scope) - {"user", "agent", "session"})
        if unknown:
            raise InvalidInput(f"read() takes the scope user, agent, session; not {unknown}")
        llm = getattr(self.processors(), "llm", None) if policy == "llm" else None
        chosen = resolve_policy(
            policy, embedder=self.embedder, llm=llm, count_tokens=self.count_tokens
        )
        profiler = self.profiler

        def on_chunk(row: ChunkStats) -> None:
            if profiler is not None:
                fields = dataclasses.asdict(row)
                profiler.record(READ, fields.pop("seconds"), **fields)

        reading = read(
            source,
            question,
            chunk_tokens=chunk_tokens,
            memory_tokens=memory_tokens,
            policy=chosen,
            count_tokens=self.count_tokens,
            progress=progress,
            on_chunk=on_chunk,
        )
        totals = reading.totals()
        self._count("reads")
        self._count("read_chunks", int(totals["chunks"]))
        self._count("read_tokens", int(totals["tokens_read"]))
        self._count("read_fallbacks", int(totals["fallbacks"]))
        if not store:
            return reading
        return save_reading(
            self._facade, reading, _source_name(source), kind=store_kind, scope=scope
        )

    def import_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        on_conflict: OnConflict = "skip",
        batch: int = 256,
        actor: str | None = "import",
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Add ``add`` records idempotently: a record whose ``id`` is taken is skipped,
        replaced or refused (``on_conflict``); see ``memoryspace.transfer.import_records``.

        Raises:
            InvalidInput: a bad record or argument.
            Conflict: ``on_conflict="error"`` and a record's id is taken.
        """
        from memoryspace.transfer import import_records

        return import_records(
            self._facade,
            records,
            on_conflict=on_conflict,
            batch=batch,
            actor=actor,
            progress=progress,
        )

    def export_records(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Memories matching ``filters`` as ``add`` records with ids, which
        ``import_records`` takes back (into this space or another)."""
        from memoryspace.transfer import export_records

        return export_records(self._facade, **filters)


def _source_name(source: object) -> str:
    """How a stored reading names its source: the path, or the kind of input."""
    if isinstance(source, str):
        return "text"
    if isinstance(source, os.PathLike):
        return str(os.fspath(source))
    return type(source).__name__
