"""Copying a database to another backend by replaying its op log, then proving the copy equal.

The log is the database: replaying its entries in order (``LogRow``s have the same columns on
every backend) rebuilds every record with the same ids, keys, versions and history, so a copy
answers ``history``, ``changes``, ``as_of`` and ``restore`` as the original does. A migration
copies in batches and is resumable: it continues after the target's last LSN, once it has
checked that the target's log is a prefix of the source's; a PostgreSQL target builds its HNSW
index once, at the end (``PostgresStore.bulk_load``). Settings travel too (the embedder
and dimension; never the database id); access counters (unlogged statistics) and checkpoints do
not. ``verify`` compares the two: record count, ids, content hashes and the LSN-ordered history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Protocol

from memoryspace.errors import Conflict
from memoryspace.models import Filter
from memoryspace.store.base import Store
from memoryspace.store.oplog import LogRow

_LOCAL_SETTINGS = ("database.id", "schema.version")
_SHARED_SETTINGS = ("embedder.model_id", "embedder.dimension")


class Replayable(Store, Protocol):
    """A store whose log can be read raw and replayed verbatim (both backends)."""

    def log_rows(self, after_lsn: int, upto_lsn: int) -> list[LogRow]: ...

    def replay(self, rows: Sequence[LogRow]) -> None: ...


@dataclass(frozen=True, slots=True)
class Migration:
    """What a ``migrate`` call did."""

    copied: int  # log entries replayed by this call
    resumed_at: int  # the target's last LSN before it (0 for a fresh target)
    lsn: int  # the target's last LSN after it (the source's)
    memories: int  # records in the target
    differences: tuple[str, ...]  # what ``verify`` found (empty: equal)


def migrate(
    source: Replayable,
    target: Replayable,
    *,
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    check: bool = True,
) -> Migration:
    """Replay ``source``'s log after ``target``'s last LSN into ``target``, ``batch`` entries
    per transaction; ``progress(done, total)`` after each batch; then ``verify`` (``check``).

    Raises:
        Conflict: the target's log is not a prefix of the source's (another database's, or
            written to since a previous migration).
    """
    start = target.last_lsn()
    end = source.last_lsn()
    _check_prefix(source, target, start, end)
    for key in _SHARED_SETTINGS:
        value = source.get_setting(key)
        if value is not None and target.get_setting(key) != value:
            target.set_setting(key, value)
    done = 0
    # A target that can load in bulk (PostgreSQL: no HNSW index kept up row by row, one built
    # at the end) does; the copy is the same either way.
    bulk = getattr(target, "bulk_load", None)
    with bulk() if callable(bulk) else nullcontext():
        for after in range(start, end, batch):
            rows = source.log_rows(after, min(after + batch, end))
            target.replay(rows)
            done += len(rows)
            if progress is not None:
                progress(done, end - start)
    differences = tuple(verify(source, target)) if check else ()
    memories = target.count(Filter(include_archived=True, include_expired=True))
    return Migration(done, start, target.last_lsn(), memories, differences)


def _check_prefix(source: Store, target: Store, start: int, end: int) -> None:
    if start == 0:
        return
    if start > end:
        raise Conflict(
            f"the target's log reaches LSN {start}, past the source's end ({end}); "
            "it is another database or was written to: migrate into an empty database"
        )
    theirs = source.changes(start - 1, limit=1)
    mine = target.changes(start - 1, limit=1)
    if theirs != mine:
        raise Conflict(
            f"the target's log differs from the source's at LSN {start}; it is another "
            "database or was written to: migrate into an empty database"
        )


def verify(source: Store, target: Store) -> list[str]:
    """The differences between two databases: record count, ids, content hashes, history."""
    out: list[str] = []
    everything = Filter(include_archived=True, include_expired=True)
    theirs, mine = _fingerprints(source, everything), _fingerprints(target, everything)
    if len(theirs) != len(mine):
        out.append(f"{len(theirs)} records in the source, {len(mine)} in the target")
    missing, extra = sorted(set(theirs) - set(mine)), sorted(set(mine) - set(theirs))
    if missing:
        out.append(f"missing from the target: {missing[:5]}")
    if extra:
        out.append(f"only in the target: {extra[:5]}")
    changed = sorted(i for i in set(theirs) & set(mine) if theirs[i] != mine[i])
    if changed:
        out.append(f"different content: {changed[:5]}")
    for lsn, (a, b) in enumerate(zip(_history(source), _history(target), strict=False), 1):
        if a != b:
            out.append(f"the histories differ at LSN {lsn}")
            break
    if source.last_lsn() != target.last_lsn():
        out.append(f"last LSN {source.last_lsn()} in the source, {target.last_lsn()} in the target")
    return out


def _fingerprints(store: Store, everything: Filter) -> dict[str, str]:
    """Each record's id -> a hash of its logged state and vector."""
    keys = [int(k) for k in store.filter_keys(everything, now=0.0)]
    vectors = store.vectors(keys)
    out: dict[str, str] = {}
    for key, memory in store.get_by_keys(keys).items():
        state = json.dumps(memory.content_state(), sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(state.encode())
        vector = vectors.get(key)
        digest.update(b"" if vector is None else vector.tobytes())
        out[memory.id] = digest.hexdigest()
    return out


def _history(store: Store, batch: int = 1000) -> Iterator[tuple[object, ...]]:
    since = 0
    while True:
        changes = store.changes(since, limit=batch)
        if not changes:
            return
        for c in changes:
            yield (c.lsn, c.time, str(c.op), c.id, c.before, c.after, c.actor)
        since = changes[-1].lsn
