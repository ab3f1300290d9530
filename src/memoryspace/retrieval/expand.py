"""Link expansion: hits reached by following links from the best hits.

``expand_hits`` walks the links of each hit (``hops`` levels deep), scores a linked memory as its
linking hit's score times ``decay``, capped by its own relevance to the query, and marks it
(``ScoreParts.via``: the hit it came from, ``via_link``: the link's type). Direct and linked
hits are merged by score, so a score never exceeds a better-ranked hit's, and the best ``k`` are
kept. A linked memory the query's filter
would not show (another scope or kind, archived, expired, closed) is not added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from memoryspace.models import Filter, Memory, ScoreParts, SearchHit

LINK_DECAY = 0.8
"""A linked memory scores this share of the hit that links to it."""


def visible(memory: Memory, flt: Filter, now: float) -> bool:
    """Whether ``flt`` (with the default visibility rules) shows ``memory`` at time ``now``."""
    for name in ("user", "agent", "session"):
        wanted = getattr(flt, name)
        if wanted is not None and getattr(memory, name) != wanted:
            return False
    if flt.kinds and memory.kind not in flt.kinds:
        return False
    if any(tag not in memory.tags for tag in flt.tags):
        return False
    if memory.archived and not flt.include_archived:
        return False
    expired = memory.expires_at is not None and memory.expires_at <= now
    if expired and not flt.include_expired:
        return False
    if flt.valid_at is not None:
        starts, ends = memory.valid_from, memory.valid_to
        return (starts is None or starts <= flt.valid_at) and (ends is None or ends > flt.valid_at)
    closed = memory.valid_to is not None and memory.valid_to <= now
    return flt.include_closed or not closed


def expand_hits(
    hits: Sequence[SearchHit],
    *,
    k: int,
    get_many: Callable[[Sequence[str]], list[Memory]],
    show: Callable[[Memory], bool],
    hops: int = 1,
    decay: float = LINK_DECAY,
    own: Callable[[Sequence[Memory]], Sequence[float]] | None = None,
) -> list[SearchHit]:
    """``hits`` plus the memories their links reach within ``hops``, best ``k`` by score.

    ``own(memories)`` gives each linked memory's own relevance to the query; a linked memory
    then scores no more than that, so a link never lifts an unrelated memory above direct hits.
    """
    found: dict[str, SearchHit] = {hit.memory.id: hit for hit in hits}
    frontier = list(hits)
    for _ in range(hops):
        wanted = [link.id for hit in frontier for link in hit.memory.links if link.id not in found]
        if not wanted:
            break
        linked = {m.id: m for m in get_many(list(dict.fromkeys(wanted))) if show(m)}
        own_of = dict(zip(linked, own(list(linked.values())), strict=True)) if own else {}
        reached: list[SearchHit] = []
        for hit in frontier:
            for link in hit.memory.links:
                target = linked.get(link.id)
                if target is None or target.id in found:
                    continue
                score = hit.score * decay
                score = min(score, own_of.get(target.id, score))
                parts = ScoreParts(
                    fused=hit.parts.fused - abs(hit.parts.fused) * (1.0 - decay),
                    relevance=score,
                    via=hit.memory.id,
                    via_link=str(link.type),
                )
                found[target.id] = SearchHit(memory=target, score=score, parts=parts)
                reached.append(found[target.id])
        frontier = reached
    ranked = sorted(found.values(), key=lambda hit: -hit.score)  # stable: direct hits first
    return ranked[:k]
