"""``HotTier``: a bounded set of records in RAM in front of the store (L2 in front of L3).

A lookup that finds its record is a hit. One that does not is a page fault: the record is read
from the store and promoted into the tier, with up to ``promotion_batch - 1`` related records
(read-ahead): for a record with a session, its nearest neighbours in that session by
``created_at`` (ties in insertion order, i.e. dialogue order); otherwise the records it
``links`` to. When the tier exceeds ``capacity_records`` or ``capacity_tokens``, the replacement
policy (``memoryspace.tiers.policies``) chooses victims. Pinned records are locked pages: never
chosen. When no room can be made because the rest is pinned, the tier refuses admission: the
record is returned (or, for a write, written to the store) without being cached, and counted in
``stats()["bypasses"]``.

Changes reach the tier as patches (``update(id, {field: value})``): the tier never writes a
whole record back, only the fields its callers changed, so a write-back cannot undo what another
handle or process committed to other fields meanwhile. Write policies:

* ``write_through``: the store applies the patch before ``update`` returns; every update is one
  logged change. A crash loses nothing that ``update`` acknowledged.
* ``write_back``: ``update`` patches the hot copy and remembers the patch (dirty). Dirty patches
  reach the store when their record is evicted, on ``flush()``, on ``close()``, and, with
  ``flush_interval`` seconds, at the first call made at least that long after the previous flush
  (there is no background thread). Several updates of one record between two write-backs become
  one logged change (their fields merged, later ones winning). A clean ``close()`` writes every
  dirty patch and only then closes, so it loses nothing. **A crash (SIGKILL, power loss) loses
  exactly the updates made since they were last written back.** Each write-back is its own store
  transaction, so the store is always consistent.
* ``write`` (content edits, compare-and-set) always goes through: the record's pending patch and
  the new one are applied as one logged change.

Conflicts with other writers follow one rule: **the store wins where the record is gone.** A
dirty record that another handle deleted is dropped at write-back (counted in
``stats()["write_back_dropped"]``) and the flush of the other dirty records goes on. A record
changed elsewhere keeps those changes; the write-back sets only the fields this tier's callers
changed (last writer wins per field). Deletes (``delete``) go to the store at once and drop any
dirty copy. The tier does not watch the store, so a resident copy may be older than the store
until it is evicted or ``discard``-ed. Thread-safe: one lock serialises every call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from memoryspace.errors import Closed, Conflict, InvalidInput, NotFound
from memoryspace.models import Change, Memory, apply_patch
from memoryspace.store.base import Store, Vector
from memoryspace.tiers import readahead
from memoryspace.tiers.policies import ReplacementPolicy, make_policy
from memoryspace.tiers.residents import Residents

WRITE_POLICIES = ("write_through", "write_back")
_COUNTERS = [
    "hits",
    "misses",
    "evictions",
    "promotions",
    "write_backs",
    "write_back_dropped",
    "store_writes",
    "bypasses",
]


def _positive(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
    return value


class HotTier:
    """A bounded in-RAM cache of memories over a ``Store``, with page replacement and a write
    policy (see the module docstring). Use it as a context manager; it does not close the store.
    ``on_event`` (e.g. ``MemoryProfiler.record``) is called as
    ``on_event("page_fault", seconds, id=...)`` and ``on_event("eviction", seconds, id=...)``,
    with the tier's lock held. A fault's seconds cover its store read (a batched read's time is
    shared equally by its misses) and the promotion, evictions included; an eviction's cover its
    write-back. Nothing is timed without ``on_event``.

    Raises:
        InvalidInput: no capacity, a non-positive capacity or batch, an unknown policy or
            write policy, or a ``flush_interval`` without write-back.
    """

    def __init__(
        self,
        store: Store,
        *,
        capacity_records: int | None = None,
        capacity_tokens: int | None = None,
        policy: ReplacementPolicy | str = "lru",
        write_policy: str = "write_through",
        promotion_batch: int = 1,
        flush_interval: float | None = None,
        clock: Callable[[], float] = time.time,
        on_event: Callable[..., None] | None = None,
    ) -> None:
        self.capacity_records = _positive("capacity_records", capacity_records)
        self.capacity_tokens = _positive("capacity_tokens", capacity_tokens)
        if self.capacity_records is None and self.capacity_tokens is None:
            raise InvalidInput("a hot tier needs capacity_records or capacity_tokens (or both)")
        if write_policy not in WRITE_POLICIES:
            raise InvalidInput(
                f"unknown write policy {write_policy!r}; use write_through or write_back"
            )
        if flush_interval is not None:
            if write_policy != "write_back":
                raise InvalidInput("flush_interval applies only to write_policy='write_back'")
            if not isinstance(flush_interval, int | float) or not flush_interval > 0:
                raise InvalidInput(f"flush_interval must be seconds > 0, got {flush_interval!r}")
        self.promotion_batch = _positive("promotion_batch", promotion_batch) or 1
        self.policy = make_policy(policy, clock=clock) if isinstance(policy, str) else policy
        self.write_policy = write_policy
        self.flush_interval = flush_interval
        self._store = store
        self._clock = clock
        self._lock = threading.RLock()
        self._resident = Residents(self.capacity_records, self.capacity_tokens)
        self._records = self._resident.records  # id -> resident copy (read-only alias)
        # id -> (the fields changed since the last write-back, the actor of the last update)
        self._dirty: dict[str, tuple[dict[str, Any], str | None]] = {}
        self._counters = dict.fromkeys(_COUNTERS, 0)
        self._last_flush = clock()
        self._closed = False
        # Told of each page fault and eviction: e.g. ``MemoryProfiler.record``.
        self._on_event = on_event

    # -- lifecycle

    def close(self) -> None:
        """Write every dirty record to the store, then refuse further use. Idempotent.

        Raises:
            MemorySpaceError: a write-back failed; the tier stays open with its dirty records.
        """
        with self._lock:
            if self._closed:
                return
            self._flush()
            self._closed = True

    def __enter__(self) -> HotTier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _usable(self) -> None:
        if self._closed:
            raise Closed("this hot tier is closed; make a new HotTier over the store")
        if (
            self.flush_interval is not None
            and self._dirty
            and self._clock() - self._last_flush >= self.flush_interval
        ):
            self._flush()

    # -- reads

    def get(self, id: str) -> Memory:
        """The record ``id``: from RAM on a hit, else from the store (a page fault), promoting
        it and its read-ahead batch.

        Raises:
            NotFound: the store has no record ``id``.
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            memory = self._records.get(id)
            if memory is not None:
                self._hit(memory)
                return memory
            started = self._timer()
            memory = self._store.get(id)
            self._fault(memory, self._timer() - started)
            return memory

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The records that exist among ``ids``, in the order asked; the misses are read from
        the store in one query. An id promoted by an earlier miss's read-ahead is a hit.

        Raises:
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            wanted = list(dict.fromkeys(ids))
            cold = [id for id in wanted if id not in self._records]
            started = self._timer()
            fetched = {m.id: m for m in self._store.get_many(cold)} if cold else {}
            read_share = (self._timer() - started) / max(1, len(cold))
            found: dict[str, Memory] = {}
            for id in wanted:
                resident = self._records.get(id)
                if resident is not None:
                    self._hit(resident)
                    found[id] = resident
                    continue
                read = read_share
                if id not in fetched:  # resident at the start, evicted by an earlier fault
                    started = self._timer()
                    fetched.update((m.id, m) for m in self._store.get_many([id]))
                    read = self._timer() - started
                if id in fetched:
                    self._fault(fetched[id], read)
                    found[id] = fetched[id]
            return [found[id] for id in ids if id in found]

    def __contains__(self, id: object) -> bool:
        return id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def is_dirty(self, id: str) -> bool:
        """Whether the hot copy of ``id`` has changes the store does not have yet."""
        return id in self._dirty

    # -- writes

    def update(self, id: str, patch: Mapping[str, Any], *, actor: str | None = None) -> Memory:
        """Apply ``patch`` to record ``id`` by the write policy; returns the hot copy (or the
        stored version, when the tier refuses to hold it). The record becomes hot
        (write-allocate).

        Raises:
            NotFound: the store has no record ``id``.
            InvalidInput: the patch names a field that cannot be set.
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            if self.write_policy == "write_through":
                return self._write_through(id, patch, actor=actor)[1]
            current = self._records.get(id) or self._store.get(id)  # never ack a missing record
            memory = apply_patch(current, patch)
            if not self._can_hold([memory]):  # refused admission: written straight through
                return self._write_through(id, patch, actor=actor)[1]
            pending, _ = self._dirty.get(id, ({}, None))
            self._dirty[id] = ({**pending, **patch}, actor)
            self._hold(memory)
            return memory

    def write(
        self,
        id: str,
        patch: Mapping[str, Any],
        *,
        vector: Vector | None = None,
        actor: str | None = None,
        if_version: int | None = None,
    ) -> Memory:
        """Apply ``patch`` (and ``vector``) to the store now, whatever the write policy, merged
        with the record's pending patch into one logged change; ``if_version`` is compared with
        the store's version. On ``Conflict`` the hot copy takes the store's version (after writing
        the pending patch back), so reading it again and retrying can succeed.

        Raises:
            NotFound: the store has no record ``id``.
            Conflict: ``if_version`` differs from the stored version.
            Closed: the tier was closed.
        """
        return self.apply(id, patch, vector=vector, actor=actor, if_version=if_version)[1]

    def apply(
        self,
        id: str,
        patch: Mapping[str, Any],
        *,
        vector: Vector | None = None,
        actor: str | None = None,
        if_version: int | None = None,
    ) -> tuple[Change, Memory]:
        """``write``, returning the store's logged change beside the hot copy (which keeps its
        access counters; the log leaves them out).

        Raises:
            NotFound: the store has no record ``id``.
            Conflict: ``if_version`` differs from the stored version.
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            return self._write_through(id, patch, vector=vector, actor=actor, if_version=if_version)

    def page_in(self, memories: Iterable[Memory]) -> None:
        """Count a use of records the caller has just read from the store (e.g. search hits):
        a resident one is a hit; another is a page fault served by that read (no second read),
        promoted with its read-ahead batch.

        Raises:
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            for memory in memories:
                resident = self._records.get(memory.id)
                if resident is not None:
                    self._hit(resident)
                else:
                    self._fault(memory, 0.0)

    def count_access(self, ids: Iterable[str], when: float) -> None:
        """Add one access at ``when`` to the resident copies among ``ids`` (once per mention),
        as the store does for ``touch``: a hot copy's counters stay the store's."""
        with self._lock:
            for id in ids:
                memory = self._records.get(id)
                if memory is not None:
                    self._records[id] = memory.evolve(
                        access_count=memory.access_count + 1,
                        last_access=max(memory.last_access or when, when),
                    )

    def peek(self, ids: Iterable[str]) -> dict[str, Memory]:
        """The resident copies among ``ids``, without counting a use or reading the store."""
        with self._lock:
            self._usable()
            return {id: self._records[id] for id in ids if id in self._records}

    def put(self, memory: Memory, *, actor: str | None = None) -> None:
        """``update`` with the fields in which ``memory`` differs from the tier's copy (or the
        stored one): for callers that edit a copy they read through this tier.

        Raises:
            NotFound: the store has no record with that id.
            InvalidInput: ``memory`` is not a ``Memory``.
            Closed: the tier was closed.
        """
        if not isinstance(memory, Memory):
            raise InvalidInput(f"put takes a Memory, got {type(memory).__name__}")
        with self._lock:
            self._usable()
            current = self._records.get(memory.id) or self._store.get(memory.id)
            before, after = current.content_state(), memory.content_state()
            patch = {k: v for k, v in after.items() if k != "id" and v != before[k]}
            self.update(memory.id, patch, actor=actor)

    def pin(self, id: str, *, actor: str | None = None) -> Memory:
        """``set_pinned(id, True)``: a locked page, never evicted."""
        return self.set_pinned(id, True, actor=actor)

    def unpin(self, id: str, *, actor: str | None = None) -> Memory:
        """``set_pinned(id, False)``."""
        return self.set_pinned(id, False, actor=actor)

    def set_pinned(self, id: str, pinned: bool, *, actor: str | None = None) -> Memory:
        """Pin or unpin ``id`` through ``update`` (so by the write policy); the new version.

        Raises:
            NotFound: the store has no record ``id``.
            Closed: the tier was closed.
        """
        return self.update(id, {"pinned": pinned, "updated_at": self._clock()}, actor=actor)

    def delete(self, ids: Sequence[str], *, actor: str | None = None) -> list[Change]:
        """Delete records from the store at once and drop them (dirty or not) from the tier.

        Raises:
            NotFound: one of the ids is not in the store; nothing was deleted.
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            changes = self._store.delete(ids, actor=actor)
            for id in ids:
                if id in self._records:
                    self.policy.on_remove(id)
                    self._dirty.pop(id, None)
                    self._unplace(id)
            return changes

    def evict(self, id: str) -> bool:
        """Evict ``id`` now (writing it back if dirty), even if pinned; False if not resident.

        Raises:
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            if id not in self._records:
                return False
            self.policy.on_remove(id)
            self._evict(id)
            return True

    def flush(self) -> int:
        """Write every dirty record to the store; returns how many were written.

        Raises:
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            return self._flush()

    def clear(self) -> int:
        """Write every dirty record back, then drop every record, pinned ones too (not counted
        as evictions): for when the store changed under the tier, e.g. a restore. Returns how
        many records were written back.

        Raises:
            Closed: the tier was closed.
        """
        with self._lock:
            return self.discard(list(self._records))

    def discard(self, ids: Iterable[str]) -> int:
        """Write the dirty ones among ``ids`` back, then drop every resident one, pinned ones
        too (not counted as evictions): for records the store changed under the tier, e.g. a
        garbage collection. Returns how many records were written back.

        Raises:
            Closed: the tier was closed.
        """
        with self._lock:
            self._usable()
            resident = [id for id in dict.fromkeys(ids) if id in self._records]
            written = 0
            for id in resident:
                if id in self._dirty:
                    written += self._write_back(id)
                if id in self._records:
                    self.policy.on_remove(id)
                    self._unplace(id)
            return written

    # -- counters

    def stats(self) -> dict[str, float]:
        """Counters since creation: ``hits``, ``misses`` (page faults), ``evictions``,
        ``promotions`` (records brought in from the store, read-ahead included),
        ``write_backs``, ``store_writes`` (every update the tier sent to the store),
        ``bypasses`` (refused admissions), and now: ``dirty``, ``records``, ``tokens``,
        ``hit_rate`` (hits / lookups, 0 before any lookup)."""
        with self._lock:
            lookups = self._counters["hits"] + self._counters["misses"]
            return {
                **self._counters,
                "dirty": len(self._dirty),
                "records": len(self._records),
                "tokens": self._resident.tokens,
                "hit_rate": self._counters["hits"] / lookups if lookups else 0.0,
            }

    # -- internals (called with the lock held)

    def _hit(self, memory: Memory) -> None:
        self._counters["hits"] += 1
        self.policy.on_access(memory.id, memory)

    def _timer(self) -> float:
        """Seconds for event durations; free (0.0) when nobody listens."""
        return time.perf_counter() if self._on_event is not None else 0.0

    def _fault(self, memory: Memory, read_seconds: float) -> None:
        started = self._timer()
        self._counters["misses"] += 1
        try:
            self._promote(memory)
        finally:
            if self._on_event is not None:
                self._on_event("page_fault", read_seconds + self._timer() - started, id=memory.id)

    def _promote(self, memory: Memory) -> None:
        if not self._can_hold([memory]):
            self._counters["bypasses"] += 1
            return
        batch: list[Memory] = []
        for neighbour in self._neighbours(memory):
            if not self._can_hold([*batch, neighbour, memory]):
                break
            self._admit(neighbour, {m.id for m in batch} | {memory.id})
            batch.append(neighbour)
        # the faulting record goes last, so recency-based policies see it as the newest
        self._admit(memory, {m.id for m in batch})
        self._counters["promotions"] += 1 + len(batch)

    def _neighbours(self, memory: Memory) -> list[Memory]:
        """Up to ``promotion_batch - 1`` related records that are not resident."""
        return readahead.related(
            self._store, memory, self.promotion_batch - 1, self._records, self._clock()
        )

    def _can_hold(self, group: Sequence[Memory]) -> bool:
        return self._resident.can_hold(group)

    def _admit(self, memory: Memory, protected: set[str]) -> None:
        self._place(memory)
        self.policy.on_insert(memory.id, memory)
        self._make_room(protected | {memory.id})

    def _make_room(self, protected: set[str]) -> None:
        def can_evict(key: str) -> bool:
            return key not in protected and not self._records[key].pinned

        while self._resident.over_capacity():
            self._evict(self.policy.victim(can_evict))

    def _evict(self, id: str) -> None:
        """Drop a record the policy has already forgotten, writing it back first if dirty."""
        started = self._timer()
        memory = self._records[id]
        if id in self._dirty:
            try:
                self._write_back(id)
            except BaseException:
                self.policy.on_insert(id, memory)  # still resident, still dirty
                raise
        if id in self._records:
            self._unplace(id)
        self._counters["evictions"] += 1
        if self._on_event is not None:
            self._on_event("eviction", self._timer() - started, id=id)

    def _flush(self) -> int:
        written = sum(self._write_back(id) for id in list(self._dirty))
        self._last_flush = self._clock()
        return written

    def _write_back(self, id: str) -> int:
        """Send ``id``'s pending patch to the store; 1 if written, 0 if the record was deleted
        elsewhere (the store wins: the hot copy is dropped)."""
        patch, actor = self._dirty[id]
        try:
            change = self._store.update(id, patch, actor=actor)
        except NotFound:
            del self._dirty[id]
            if id in self._records:
                self.policy.on_remove(id)
                self._unplace(id)
            self._counters["write_back_dropped"] += 1
            return 0
        del self._dirty[id]  # only once the store has it
        self._counters["write_backs"] += 1
        self._counters["store_writes"] += 1
        self._refresh(change)
        return 1

    def _write_through(
        self,
        id: str,
        patch: Mapping[str, Any],
        *,
        vector: Vector | None = None,
        actor: str | None = None,
        if_version: int | None = None,
    ) -> tuple[Change, Memory]:
        pending, _ = self._dirty.get(id, ({}, None))
        old = self._records.get(id)
        counters = old or self._store.get(id)  # the log leaves access counters out
        try:
            change = self._store.update(
                id, {**pending, **patch}, vector=vector, actor=actor, if_version=if_version
            )
        except Conflict:
            self._reload(id)  # so that "read it again and retry" reads the store's version
            raise
        self._dirty.pop(id, None)
        self._counters["store_writes"] += 1
        assert change.after is not None
        memory = change.after.evolve(
            access_count=counters.access_count, last_access=counters.last_access
        )
        if self._can_hold([memory]):
            self._hold(memory)
        else:
            if old is not None:
                self.policy.on_remove(id)
                self._unplace(id)
            self._counters["bypasses"] += 1
        return change, memory

    def _reload(self, id: str) -> None:
        """Write ``id``'s pending patch back, else take the store's version of it."""
        if id in self._dirty:
            self._write_back(id)
            return
        old = self._records.get(id)
        if old is None:
            return
        self._unplace(id)
        try:
            fresh = self._store.get(id)
        except NotFound:
            self.policy.on_remove(id)
            return
        self._place(fresh.evolve(access_count=old.access_count, last_access=old.last_access))

    def _refresh(self, change: Change) -> None:
        """The resident copy takes the version the store just wrote (counters kept)."""
        old = self._records.get(change.id)
        if old is None or change.after is None:
            return
        self._unplace(change.id)
        self._place(change.after.evolve(access_count=old.access_count, last_access=old.last_access))

    def _hold(self, memory: Memory) -> None:
        """Make ``memory`` the resident copy of its id (admitting it if new), then make room."""
        old = self._records.get(memory.id)
        if old is not None:
            self._unplace(memory.id)
        self._place(memory)
        if old is None:
            self.policy.on_insert(memory.id, memory)
        else:
            self.policy.on_access(memory.id, memory)
        self._make_room({memory.id})

    def _place(self, memory: Memory) -> None:
        self._resident.place(memory)

    def _unplace(self, id: str) -> None:
        self._resident.unplace(id)
