"""``ReadsMixin``: Reading memories: by id, by query (hybrid search), as a context, by filter.

Part of ``MemorySpace`` (see ``memoryspace.space``); the state it uses is declared in
``memoryspace.facade.state``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from memoryspace import validate
from memoryspace.context import AssembledContext, ContextWindow, assemble_context
from memoryspace.context.window_view import WindowView
from memoryspace.embed.base import cosine_scale
from memoryspace.errors import InvalidInput
from memoryspace.facade.state import SpaceState
from memoryspace.models import Filter, Memory, SearchHit
from memoryspace.profiler import RETRIEVAL
from memoryspace.retrieval.expand import expand_hits, visible
from memoryspace.telemetry import traced

if TYPE_CHECKING:
    pass

log = logging.getLogger("memoryspace")


class ReadsMixin(SpaceState):
    """Reading memories: by id, by query (hybrid search), as a context, by filter."""

    def get(self, id: str) -> Memory:
        """The memory with ``id``.

        Raises:
            NotFound: no memory has that id.
        """
        self._usable()
        return self.store.get(validate.memory_id(id))

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order asked (through the hot tier, so
        its pending edits are seen)."""
        self._usable()
        return self.store.get_many(validate.id_list(ids))

    @traced("memoryspace.search")
    def search(
        self,
        query: str,
        *,
        k: int = 10,
        min_score: float | None = None,
        touch: bool = True,
        expand: int = 0,
        **filters: Any,
    ) -> list[SearchHit]:
        """The ``k`` memories that best match ``query``, best first, each with its score parts.

        A hit's ``score`` is a relevance in [0, 1] that means the same in every query and store
        (see ``memoryspace.retrieval.hybrid``); hits below ``min_score`` (default
        ``settings.min_score``; 0 keeps all) are left out, so a query with no relevant memory
        returns nothing.

        A search is a use of its hits: their access counters (which GC and the replacement
        policies read) are bumped and they are paged into the hot tier. ``touch=False`` looks
        without using, e.g. to gather candidates that a caller ranks further.

        ``expand=1`` (up to 3) also follows the hits' links that many hops; a linked memory
        scores its linking hit's score times 0.8, at most its own dense relevance, and its
        ``parts.via`` names that hit (see
        ``memoryspace.retrieval.expand``).

        Filters: ``user``, ``agent``, ``session``, ``kind`` (one or a list), ``tags`` (all
        required), ``since`` / ``until`` (created time), ``valid_at``, ``meta`` (equality),
        ``pinned``, ``include_expired``, ``include_archived`` (records GC archived),
        ``include_closed`` (default ``False`` here: memories a newer one superseded are left
        out; ``valid_at`` sees the past).

        Raises:
            InvalidInput: an empty or too long query, a bad ``k`` or ``min_score``, or an
                unknown filter.
        """
        self._usable()
        started = self.profiler.clock() if self.profiler is not None else 0.0
        query = validate.query(query, limit=self.settings.max_query_chars)
        k, touch = validate.k(k), validate.flag("touch", touch)
        hops = validate.integer("expand", expand, low=0, high=3)
        threshold = validate.min_score(self.settings.min_score if min_score is None else min_score)
        flt = Filter.build(**{"include_closed": False, **filters})  # current memories only
        now = self._clock()
        hits, keys = self._retriever.search(query, k, flt, now, min_score=threshold)
        if hops:
            hits = expand_hits(
                hits,
                k=k,
                get_many=self.get_many,
                show=lambda m: visible(m, flt, now),
                hops=hops,
                own=lambda ms: self._own_relevance(query, ms),
            )
        if touch:
            if self.tiered is not None:  # retrieval is the main access path: page the hits in
                self.tiered.page_in([hit.memory for hit in hits])
            self.store.touch(keys, now)
        self._count("searches")
        if self.profiler is not None:
            self.profiler.record(RETRIEVAL, self.profiler.clock() - started, k=k, hits=len(hits))
        return hits

    def _own_relevance(self, query: str, memories: Sequence[Memory]) -> list[float]:
        """Each memory's own dense relevance to ``query`` in [0, 1] (0 without a vector)."""
        if not memories:
            return []
        vectors = self._facade.stored_vectors([m.id for m in memories])
        query_vector = self._retriever.query_vector(query).astype(np.float64)
        cosines = np.array(
            [float(vectors[m.id] @ query_vector) if m.id in vectors else -1.0 for m in memories]
        )
        return [float(r) for r in cosine_scale(self.embedder).relevance(cosines)]

    @traced("memoryspace.context")
    def context(
        self,
        query: str,
        *,
        budget: int,
        k: int = 20,
        min_score: float | None = None,
        format: Literal["text", "messages"] = "text",
        **filters: Any,
    ) -> AssembledContext:
        """A prompt-ready context for ``query`` within ``budget`` tokens.

        The scope's pinned memories come first, then the ``k`` best hits scoring at least
        ``min_score`` (default ``settings.min_score``; see ``search``). Each scope (user,
        agent, session) keeps one ``ContextWindow`` between calls, so memories that stay relevant
        keep their place and the prompt's prefix stays byte-identical for LLM prefix caches.
        ``format`` is ``"text"`` or ``"messages"``; each block lists its source ids.

        Raises:
            InvalidInput: an empty query, a bad budget, ``k``, ``min_score`` or format, or an
                unknown filter.
        """
        self._usable()
        budget = validate.positive_int("budget", budget, high=validate.MAX_BUDGET)
        if format not in ("text", "messages"):
            raise InvalidInput(f"unknown context format {format!r}; use 'text' or 'messages'")
        hits = self.search(query, k=k, min_score=min_score, **filters)  # flushes the hot tier
        scope = {name: filters.get(name) for name in ("user", "agent", "session")}
        pinned = list(self.store.scan(Filter.build(pinned=True, **scope), now=self._clock()))
        key = (scope["user"], scope["agent"], scope["session"])
        with self._windows_lock:
            window = self._windows.get(key)
            if window is None or window.budget_tokens != budget:
                window = self._windows[key] = ContextWindow(budget)
            return assemble_context(
                hits,
                budget=budget,
                counter=self.count_tokens,
                window=window,
                pinned=pinned,
                format=format,
            )

    def context_windows(self) -> list[WindowView]:
        """A snapshot of each scope's context window, the heap ``context`` lays prompts out
        in (slots, holes, fragmentation); reading it changes nothing."""
        self._usable()
        with self._windows_lock:
            return [WindowView.of(window, *key) for key, window in self._windows.items()]

    def scan(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        **filters: Any,
    ) -> Iterator[Memory]:
        """Memories matching the filters, oldest first (or newest first).

        Raises:
            InvalidInput: a bad ``limit``, ``offset`` or filter.
        """
        self._usable()
        flt = Filter.build(**filters)
        limit = validate.optional_integer("limit", limit, low=0, high=validate.MAX_ROWS)
        offset = validate.integer("offset", offset, low=0, high=validate.MAX_ROWS)
        newest_first = validate.flag("newest_first", newest_first)
        return self.store.scan(
            flt, now=self._clock(), limit=limit, offset=offset, newest_first=newest_first
        )

    def count(self, **filters: Any) -> int:
        """How many memories match the filters."""
        self._usable()
        flt = Filter.build(**filters)
        return self.store.count(flt, now=self._clock())
