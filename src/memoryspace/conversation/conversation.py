"""``Conversation``: MemoryOS's three-level memory of one user's dialogue with an agent.

    conv = ms.conversation(user="emily", agent="companion")
    conv.add_turn("I love painting.", "What do you paint?")
    conv.prompt("what are my hobbies?", budget=800).text

* STM: the last ``stm_capacity`` pages (place ``stm``), meta-chained when continuous;
  overflow moves the oldest page (FIFO) into MTM.
* MTM: segments of pages; a page joins the segment of highest Fscore when it reaches θ, else
  starts one; when more than ``mtm_capacity`` segments are live the coldest is archived. A
  segment's ``e_s`` is the running mean of its pages' vectors (kept in memory, rebuilt from the
  pages' stored vectors on load), so a page joining embeds nothing. The segment's summary
  record is rewritten, and so embedded, by ``flush`` (which every read runs first) or when the
  segment is archived: once per batch of joining pages, not once per page.
* LPM: a segment whose heat reaches τ queues its pages for long-term memory (and its interaction
  count resets); queued pages are absorbed ``lpm_batch`` at a time (facts, profile, traits).

``retrieve`` returns all of STM, the ``top_k`` best pages of the ``top_m`` best segments, and
LPM's facts and profile. By default pages are scored by the space's hybrid search (dense + BM25)
and segments by Fscore plus their best page's score; ``ConversationSettings.paper()`` restores
MemoryOS's Fscore-then-cosine funnel of 5 segments.

Everything is an ordinary record of the space, so the state is rebuilt from the store when a
conversation is made again (no side files); each record's place (STM, segment, archive) is typed
state (``memoryspace.conversation.state``). The conversation uses only the narrow
``MemoryInterface`` (``memoryspace.structures``), never the store, so it runs over any space.
Per-turn work (keywords, continuity, summaries) is always offline; only LPM fact extraction goes
to ``processors``, batched, so with an LLM the cost is at most one call per ``batch_size`` queued
pages (LLMProcessors' default: 8), plus one for a partial batch whenever a read flushes the
queue: 0.175 calls per added turn on LoCoMo.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from memoryspace.context import AssembledContext, ContextWindow, assemble_context
from memoryspace.context.assemble import render_memory
from memoryspace.conversation.pages import page_content, page_keywords, page_meta
from memoryspace.conversation.profile import LongTermMemory
from memoryspace.conversation.segments import (
    Segment,
    Vector,
    best_segment,
    coldest,
    cosine,
    fscore,
    heat,
)
from memoryspace.conversation.settings import ConversationSettings, Retrieval
from memoryspace.conversation.state import (
    STATE_KEY,
    LPMState,
    Place,
    SegmentState,
    is_legacy,
    legacy_fields,
    page_state,
    segment_state,
    with_state,
)
from memoryspace.errors import InvalidInput, ReadOnly
from memoryspace.llm.offline import OfflineProcessors
from memoryspace.llm.processors import Persona, Processors
from memoryspace.models import Link, LinkType, Memory, ScoreParts, SearchHit
from memoryspace.structures import MemoryInterface


def _z(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Values minus their mean over their spread (all zeros when they do not spread)."""
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _unit(vector: Any) -> Vector:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class Conversation:
    """The memory of ``user``'s dialogue with ``agent`` inside ``space`` (see the module doc).

    Raises:
        InvalidInput: an empty ``user`` (at construction).
    """

    def __init__(
        self,
        space: MemoryInterface,
        *,
        user: str,
        agent: str | None = None,
        settings: ConversationSettings | None = None,
        processors: Processors | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(user, str) or not user.strip():
            raise InvalidInput("a conversation needs a non-empty user id")
        self.space = space
        self.user = user
        self.agent = agent
        self.settings = settings or ConversationSettings()
        self._fast = OfflineProcessors()
        self.processors: Processors = processors if processors is not None else self._fast
        self._clock = clock or space.now
        self._user_label = self.settings.user_label or user
        self._agent_label = self.settings.agent_label or agent or "agent"
        self._weights = self.settings.weights
        self._lock = threading.RLock()
        self._stm: list[Memory] = []
        self._segments: dict[str, Segment] = {}
        self._vectors: dict[str, Vector] = {}
        self._pending: list[str] = []
        self._window: ContextWindow | None = None
        self.turns_added = 0
        self.lpm = LongTermMemory(
            space,
            user=user,
            agent=agent,
            user_label=self._user_label,
            agent_label=self._agent_label,
            processors=self.processors,
        )
        self._load()

    # -- state

    def _scope(self) -> dict[str, Any]:
        return {"user": self.user, "agent": self.agent}

    def _load(self) -> None:
        """Rebuild STM, live segments and the LPM queue from the store (migrating records that
        keep their state in the legacy meta flags; see ``memoryspace.conversation.state``)."""
        self.space.flush()  # segment visits wait in the batched access counters
        pages = self._current(self.space.scan(kind="turn", meta={"page": True}, **self._scope()))
        states = {page.id: page_state(page) for page in pages}
        pages = [page for page in pages if states[page.id].place is not Place.ARCHIVED]
        by_id = {page.id: page for page in pages}
        self._stm = [page for page in pages if states[page.id].place is Place.STM]
        self._pending = [page.id for page in pages if states[page.id].lpm is LPMState.PENDING]
        found = self.space.scan(kind="summary", meta={"segment": True}, **self._scope())
        records = [r for r in self._current(found) if not segment_state(r).archived]
        wanted = [*self._stm, *(by_id[i] for r in records for i in r.link_ids() if i in by_id)]
        self._vectors = self._stored_vectors(wanted)
        for record in records:
            members = [by_id[i] for i in record.link_ids() if i in by_id]
            self._segments[record.id] = Segment.from_record(
                record,
                [self._vectors[page.id] for page in members],
                [page.content for page in members],
                len(self._vectors[members[0].id]) if members else self._dimension(),
            )

    def _current(self, records: Iterable[Memory]) -> list[Memory]:
        """``records`` with any legacy state moved to the typed form (written once; a read-only
        view reads the legacy form as it is)."""
        out = []
        for record in records:
            if is_legacy(record):
                with contextlib.suppress(ReadOnly):
                    record = self.space.update(
                        record.id, actor="conversation", **legacy_fields(record)
                    )
            out.append(record)
        return out

    def _dimension(self) -> int:
        return int(self.space.embed(["dimension"]).shape[1])

    def _stored_vectors(self, pages: Sequence[Memory]) -> dict[str, Vector]:
        found = self.space.stored_vectors([page.id for page in pages])
        out = {pid: _unit(vector) for pid, vector in found.items()}
        missing = [page for page in pages if page.id not in out]
        if missing:
            vectors = self.space.embed([page.content for page in missing])
            out.update({p.id: _unit(v) for p, v in zip(missing, vectors, strict=True)})
        return out

    def _set_page(self, page: Memory, **changes: Any) -> Memory:
        """Patch a page's typed state (place, segment, lpm); returns the new version."""
        state = dataclasses.replace(page_state(page), **changes)
        return self.space.update(page.id, meta=with_state(page.meta, state))

    @property
    def stm(self) -> list[Memory]:
        """The short-term pages, oldest first."""
        return list(self._stm)

    @property
    def segments(self) -> list[Segment]:
        """The live mid-term segments, oldest first."""
        return list(self._segments.values())

    def segment_heat(self, segment_id: str) -> float:
        """The heat of a live segment now.

        Raises:
            KeyError: no live segment has that id.
        """
        return self._segments[segment_id].heat(self._clock(), self._weights)

    # -- adding

    def add_turn(
        self,
        user_text: str,
        agent_text: str = "",
        timestamp: float | None = None,
        *,
        dia_ids: Sequence[str] = (),
        session: str | None = None,
    ) -> Memory:
        """Store one exchange as a page in STM; overflow moves the oldest pages to MTM.

        ``dia_ids`` are the caller's ids for the two turns (kept in ``meta``); ``session`` is the
        page's session in the space (the hybrid page ranker favours pages of the sessions that
        match the query best).

        Raises:
            InvalidInput: both texts are empty, or a text is not a string.
        """
        if not isinstance(user_text, str) or not isinstance(agent_text, str):
            raise InvalidInput("add_turn takes the user's and the agent's text as strings")
        user_text, agent_text = user_text.strip(), agent_text.strip()
        if not user_text and not agent_text:
            raise InvalidInput("add_turn needs the user's text, the agent's text or both")
        with self._lock:
            now = self._clock() if timestamp is None else float(timestamp)
            content = page_content(self._user_label, user_text, self._agent_label, agent_text)
            previous = self._stm[-1] if self._stm else None
            chain = None
            summary_of = [content]
            if previous is not None and (
                self._fast.continuity(previous.content, previous.created_at, content, now)
                >= self.settings.continuity
            ):
                chain = previous.id
                summary_of = [str(previous.meta.get("chain_summary") or ""), content]
            meta = page_meta(
                user_text,
                agent_text,
                chain=chain,
                chain_summary=self._fast.summarize(summary_of, 3),
                keywords=self._fast.keywords(f"{user_text}\n{agent_text}", 8),
                dia_ids=dia_ids,
            )
            vector = _unit(self.space.embed([content])[0])
            page = self.space.add(
                content,
                kind="turn",
                timestamp=now,
                meta=meta,
                links=[Link.to(chain, LinkType.FOLLOWS)] if chain else [],
                vector=vector,
                session=session,
                **self._scope(),
            )
            self.turns_added += 1
            self._stm.append(page)
            self._vectors[page.id] = vector
            while len(self._stm) > self.settings.stm_capacity:
                self._page_out(self._stm.pop(0), now)
            if len(self._pending) >= self.settings.lpm_batch:
                self._absorb()
            return page

    def _page_out(self, page: Memory, now: float) -> None:
        """Move one page from STM into its best segment (or a new one)."""
        page = self.space.get(page.id)  # the STM copy may predate an LPM update
        vector, keywords = self._vectors[page.id], page_keywords(page)
        segment, score = best_segment(list(self._segments.values()), vector, keywords)
        if segment is not None and score >= self.settings.theta:
            segment.add_page(page.id, vector, keywords, page.content)
            segment.last_access = max(segment.last_access, now)
            segment.record = self.space.update(  # no new content: the summary is lazy
                segment.id,
                links=[Link.to(id, LinkType.DERIVED_FROM) for id in segment.page_ids],
                meta=segment.meta(now, self._weights),
            )
        else:
            record = self.space.add(
                self._fast.summarize([page.content], 3),
                dedupe=False,  # a segment is a topic of its own, whatever its summary says
                kind="summary",
                timestamp=now,
                links=[Link.to(page.id, LinkType.DERIVED_FROM)],
                meta={
                    "segment": True,
                    STATE_KEY: SegmentState().to_meta(),
                    "keywords": sorted(keywords),
                    "visits": 0,
                    "interactions": 1,
                    "last_access": now,
                    "heat": heat(0, 1, now, now, self._weights),
                    "summary_pages": 1,
                },
                **self._scope(),
            )
            segment = Segment(
                record, [page.id], set(keywords), vector.copy(), 0, 1, now, [page.content], 1
            )
            self._segments[segment.id] = segment
        self._set_page(page, place=Place.MTM, segment=segment.id)
        self._maybe_promote(segment, now)
        while len(self._segments) > self.settings.mtm_capacity:
            victim = coldest(self._segments.values(), now, self._weights)
            if victim is None:
                break
            self._archive(victim)

    def _maybe_promote(self, segment: Segment, now: float) -> None:
        """A segment hotter than τ queues its new pages for LPM and resets its interactions.

        Pages before ``segment.promoted`` were queued by an earlier promotion, so they are not
        read again; a hot segment with no new page and no interaction since is left as it is.
        """
        if segment.heat(now, self._weights) < self.settings.tau:
            return
        fresh = segment.page_ids[segment.promoted :]
        if not fresh and segment.interactions == 0:
            return
        for page in self.space.get_many(fresh):
            if page_state(page).lpm is None:
                self._set_page(page, lpm=LPMState.PENDING)
                self._pending.append(page.id)
        segment.promoted = len(segment.page_ids)
        segment.interactions = 0
        segment.record = self.space.update(segment.id, meta=segment.meta(now, self._weights))

    def _archive(self, segment: Segment) -> None:
        """Evict a segment from MTM: it and its pages stay in the store, marked archived."""
        self._write_summary(segment, self._clock())
        record = segment.record
        self.space.update(segment.id, meta=with_state(record.meta, SegmentState(archived=True)))
        for page in self.space.get_many(segment.page_ids):
            self._set_page(page, place=Place.ARCHIVED, segment=segment.id)
            self._vectors.pop(page.id, None)
        del self._segments[segment.id]

    def _write_summary(self, segment: Segment, now: float) -> None:
        """Rewrite a stale segment's summary record (re-embedded only if its text changed)."""
        if not segment.stale:
            return
        segment.summarized = len(segment.page_ids)
        segment.record = self.space.update(
            segment.id,
            content=self._fast.summarize(segment.page_texts[-20:], 3),
            meta=segment.meta(now, self._weights),
        )

    def flush(self) -> int:
        """Rewrite stale segment summaries and absorb the queued pages into LPM now.

        Returns how many new facts were stored. Every read (``retrieve``, ``prompt``,
        ``persona``, ``consolidate``) flushes first; adding turns only absorbs a full LPM batch.
        So a segment's summary is embedded once per flush however many pages joined it since.
        """
        with self._lock:
            now = self._clock()
            for segment in self._segments.values():
                self._write_summary(segment, now)
            return self._absorb()

    def _absorb(self) -> int:
        """Absorb the queued pages into LPM; returns how many new facts were stored."""
        if not self._pending:
            return 0
        pages = self.space.get_many(self._pending)
        self._pending = []
        learned = self.lpm.absorb(pages)
        for page in pages:
            self._set_page(page, lpm=LPMState.DONE)
        return learned

    # -- reading

    def retrieve(
        self, query: str, *, top_m: int | None = None, top_k: int | None = None
    ) -> Retrieval:
        """All of STM, the top-m segments' top-k pages, and LPM's top facts plus the profile.

        Pages are scored by ``settings.page_ranker`` and segments ranked by
        ``settings.segment_ranker`` (see ``ConversationSettings``); only pages of the chosen
        segments can be returned from MTM. The chosen segments count a visit (heat and last
        access updated), kept in the batched access counters rather than the log, so the
        segment records' ``meta["visits"]`` and ``meta["heat"]`` show their last logged change.

        Raises:
            InvalidInput: an empty query.
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("query must be a non-empty string")
        top_m = top_m or self.settings.top_m
        top_k = top_k or self.settings.top_k
        with self._lock:
            self.flush()
            now = self._clock()
            vector = _unit(self.space.embed([query])[0])
            scores = self._page_scores(query, vector)
            ranked = self._rank_segments(vector, set(self._fast.keywords(query, 8)), scores)
            ranked = ranked[:top_m]
            candidates = [pid for segment in ranked for pid in segment.page_ids]
            best = sorted(candidates, key=lambda pid: -scores[pid])[:top_k]
            pages = self.space.get_many(best)
            # a visit is a read: counted in the batched access counters, not written to the log
            self.space.record_use([segment.id for segment in ranked], when=now)
            for segment in ranked:
                segment.visits += 1
                segment.last_access = now
                self._maybe_promote(segment, now)
            shown = [*candidates, *(page.id for page in self._stm)]
            facts = self.lpm.fact_hits(query, self.settings.lpm_top)
            return Retrieval(
                query=query,
                stm=tuple(self._stm),
                segments=tuple(segment.record for segment in ranked),
                pages=tuple(pages),
                facts=tuple(hit.memory for hit in facts),
                profile=self.lpm.profile_record,
                scores={pid: scores[pid] for pid in shown},
                fact_scores={hit.memory.id: hit.score for hit in facts},
            )

    def _live_pages(self) -> list[str]:
        return [
            *(page.id for page in self._stm),
            *(pid for segment in self._segments.values() for pid in segment.page_ids),
        ]

    def _page_scores(self, query: str, vector: Vector) -> dict[str, float]:
        """Every live page's score for the query by the page ranker.

        ``"dense"`` is the cosine with the query. ``"hybrid"`` is the fused score of one search
        of the space (dense + BM25, z-scored; see ``memoryspace.retrieval.hybrid``) over this
        conversation's pages, taking the space's ``candidates`` best; archived pages are dropped
        from its answer, and live pages it did not return score as its lowest hit. The search
        does not touch its candidates (``touch=False``): the conversation counts its own use in
        segment visits and heat.
        """
        live = self._live_pages()
        if self.settings.page_ranker == "dense":
            return {pid: cosine(self._vectors[pid], vector) for pid in live}
        where: dict[str, Any] = {"kind": "turn", "meta": {"page": True}, "user": self.user}
        if self.agent is not None:
            where["agent"] = self.agent
        k = self.space.settings.candidates
        hits = self.space.search(query, k=k, min_score=0.0, touch=False, **where)
        found = {hit.memory.id: hit.parts.fused for hit in hits}
        floor = min(found.values(), default=0.0)
        return {pid: found.get(pid, floor) for pid in live}

    def _rank_segments(
        self, vector: Vector, words: set[str], page_scores: dict[str, float]
    ) -> list[Segment]:
        """Live segments, best first, by ``settings.segment_ranker``.

        ``"fscore"`` is MemoryOS's Fscore of the segment against the query. ``"hybrid"`` adds
        lexical and page-level evidence: the z-scored Fscore plus the z-scored best page score
        inside the segment, so a segment whose mean embedding is diluted by many topics is
        still found through the one page that matches.
        """
        segments = list(self._segments.values())
        if not segments:
            return []
        fscores = np.array([fscore(s.embedding, vector, s.keywords, words) for s in segments])
        order = fscores
        if self.settings.segment_ranker == "hybrid":
            floor = min(page_scores.values(), default=0.0)
            best = np.array(
                [max((page_scores[pid] for pid in s.page_ids), default=floor) for s in segments]
            )
            order = _z(fscores) + _z(best)
        ranking = sorted(range(len(segments)), key=lambda i: (-float(order[i]), segments[i].id))
        return [segments[i] for i in ranking]

    def prompt(self, query: str, budget: int) -> AssembledContext:
        """A context for ``query`` in ``budget`` tokens: long-term memory, then pages.

        At most ``settings.profile_share`` of the budget goes to long-term memory: the facts
        most relevant to the query (scoring at least ``settings.profile_min_score``), best
        first, then the whole profile record if it still fits in that share. The rest goes to
        the pages (STM and the chosen segments' best pages), best scored first. Laid out by one
        ``ContextWindow`` kept between calls, so the prefix stays stable.

        Raises:
            InvalidInput: an empty query or a budget below 1.
        """
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise InvalidInput(f"budget must be a positive number of tokens, got {budget!r}")
        found = self.retrieve(query)
        memory = self._long_term_share(found, int(budget * self.settings.profile_share))
        hits = [
            *(
                SearchHit(m, found.fact_scores.get(m.id, 1.0), ScoreParts(fused=1.0))
                for m in memory
            ),
            *(
                SearchHit(page, score, ScoreParts(fused=score))
                for page in found.ranked_pages()
                for score in [found.scores.get(page.id, 0.0)]
            ),
        ]
        with self._lock:
            if self._window is None or self._window.budget_tokens != budget:
                self._window = ContextWindow(budget)
            return assemble_context(
                hits, budget=budget, counter=self.space.count_tokens, window=self._window
            )

    def _long_term_share(self, found: Retrieval, share: int) -> list[Memory]:
        """The facts (relevant enough, best first) and profile that fit in ``share`` tokens."""
        chosen: list[Memory] = []
        least = self.settings.profile_min_score
        for record in [
            *(f for f in found.facts if found.fact_scores.get(f.id, 0.0) >= least),
            *([found.profile] if found.profile is not None else []),
        ]:
            size = self.space.count_tokens(render_memory(record))
            if size <= share:
                chosen.append(record)
                share -= size
            elif record is found.profile:
                break
        return chosen

    def consolidate(self) -> int:
        """Queue every live page not yet in LPM (STM included) and absorb them now.

        An end-of-session sweep, beyond the paper's heat rule: use it when the profile must
        reflect everything said so far (e.g. before a session ends). Returns new facts stored.
        """
        with self._lock:
            live = [pid for segment in self._segments.values() for pid in segment.page_ids]
            for page in self.space.get_many([*live, *(p.id for p in self._stm)]):
                if page_state(page).lpm is None:
                    self._set_page(page, lpm=LPMState.PENDING)
                    self._pending.append(page.id)
            self._stm = self.space.get_many([p.id for p in self._stm])
            return self.flush()

    def persona(self) -> Persona:
        """What LPM learned about the user so far (queued pages absorbed first)."""
        self.flush()
        return self.lpm.persona()
