"""Read-ahead for a hot tier's page faults: the records likely to be wanted next with the one
that faulted (the spatial locality of dialogue)."""

from __future__ import annotations

import math
from collections.abc import Container
from itertools import zip_longest
from typing import Any

from memoryspace.models import Filter, Memory
from memoryspace.store.base import Store


def related(
    store: Store, memory: Memory, want: int, resident: Container[str], now: float
) -> list[Memory]:
    """Up to ``want`` records related to ``memory`` that are not ``resident``: for a record with
    a session, its nearest neighbours in that session by ``created_at`` (ties in insertion, i.e.
    dialogue, order), alternating later and earlier; otherwise the records it links to."""
    if want == 0:
        return []
    if memory.session is None:
        found = store.get_many(list(dict.fromkeys(memory.link_ids()))[:want])
    else:
        found = _session_neighbours(store, memory, want, now)
    return [m for m in found if m.id != memory.id and m.id not in resident]


def _session_neighbours(store: Store, memory: Memory, want: int, now: float) -> list[Memory]:
    scope: dict[str, Any] = {"user": memory.user, "agent": memory.agent}
    scope["session"] = memory.session
    at = memory.created_at
    just_after = math.nextafter(at, math.inf)
    scan = store.scan
    before = list(scan(Filter(**scope, until=at), now=now, limit=want, newest_first=True))
    same = list(scan(Filter(**scope, since=at, until=just_after), now=now))
    after = list(scan(Filter(**scope, since=just_after), now=now, limit=want))
    ids = [m.id for m in same]
    split = ids.index(memory.id) if memory.id in ids else len(same)
    earlier = [*same[:split][::-1], *before]
    later = [*same[split + 1 :], *after]
    nearest: list[Memory] = []
    for pair in zip_longest(later, earlier):
        nearest.extend(m for m in pair if m is not None)
    return nearest[:want]
