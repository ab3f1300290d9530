"""``TieredStore``: a ``HotTier`` (L2, RAM) in front of a ``Store`` (L3), as one ``Store``.

Everything above the store — the facade, retrieval, GC, agent structures — reads and writes
through this object, so the tier stays coherent by construction instead of by callers flushing
at the right moments:

* **Reads by id** (``get``, ``get_many``) go through the tier: a hit costs no store read, a miss
  is a page fault that promotes the record. ``get_by_keys`` (how retrieval reads candidates)
  serves resident records from RAM and reads only the others, without promoting them: a
  candidate is not a use. ``page_in`` makes the records a caller used (search hits) resident.
* **Reads by query** (``scan``, ``count``, ``text_search``, ``filter_keys``, ``expired``,
  ``find_same_content``, ``changes``, ``history``, ``checkpoint``, ``as_of``) run on the store
  after the tier writes its dirty patches back (read-your-writes), so a write-back tier batches
  the edits made between two such reads. Vector reads, ``last_lsn`` and ``summary`` do not
  write back (dirty patches never change content or vectors).
* **Writes**: ``update`` is the protocol's update, logged before it returns (merged with the
  record's pending patch); ``defer`` follows the tier's write policy (the one lazy write);
  ``delete`` drops the records from the tier.
* **Transactions**: ``transaction()`` writes dirty patches back, then opens the store's
  transaction. Inside it this thread bypasses the tier (reads and writes go to the store, which
  is what a plan re-validating versions must see), and the records it wrote are dropped from
  the tier when the outermost transaction ends. The tier's lock is never taken while the store's
  write lock is held, so a writer waiting in the tier cannot deadlock with a transaction.
* ``restore`` clears the tier. ``close`` writes back, then closes the store.

``io_stats`` is the backing store's: the rows it read and wrote, so what the tier saves shows.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from memoryspace.fingerprint import ContentKey
from memoryspace.heapview import HeapEntry
from memoryspace.models import Change, Checkpoint, Filter, Memory
from memoryspace.store.base import IndexDelta, Keys, Store, Vector
from memoryspace.store.erasure import PurgeReport
from memoryspace.tiers.hot import HotTier


class TieredStore:
    """``tier`` in front of ``backing`` (the store the tier was made over); see the module
    docstring. Closing it closes both."""

    def __init__(self, backing: Store, tier: HotTier) -> None:
        self.backing = backing
        self.tier = tier
        self._local = threading.local()  # .depth: this thread's transaction nesting
        self._written_lock = threading.Lock()
        self._written: dict[int, set[str]] = {}  # thread id -> ids written in its transaction
        self._ids: dict[int, str] = {}  # key -> id, learned from reads (keys are never reused)

    # -- lifecycle and settings

    @property
    def path(self) -> str | None:
        return self.backing.path

    @property
    def read_only(self) -> bool:
        return self.backing.read_only

    @property
    def as_of_lsn(self) -> int | None:
        return self.backing.as_of_lsn

    @property
    def database_id(self) -> str | None:
        return self.backing.database_id

    def writable_on_disk(self) -> bool:
        return self.backing.writable_on_disk()

    def close(self) -> None:
        """Write the tier back and close it, then close the store (even if that failed)."""
        try:
            self.tier.close()
        finally:
            self.backing.close()

    def get_setting(self, key: str) -> str | None:
        return self.backing.get_setting(key)

    def set_setting(self, key: str, value: str) -> None:
        self.backing.set_setting(key, value)

    def write_back(self) -> int:
        """Write every dirty patch to the store; how many records were written."""
        if self._in_transaction():
            return 0
        return self.tier.flush()

    def _sync(self) -> None:
        """Read-your-writes before a query the store answers (not inside a transaction,
        which wrote back when it began)."""
        if self.tier.write_policy == "write_back" and not self._in_transaction():
            self.tier.flush()

    # -- transactions

    def _in_transaction(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        outermost = not self._in_transaction()
        if outermost:
            self._sync()
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            with self.backing.transaction():
                yield
        finally:
            self._local.depth -= 1
            if outermost:
                with self._written_lock:
                    written = self._written.pop(threading.get_ident(), set())
                if written:
                    self.tier.discard(written)  # the store holds newer versions

    def _wrote(self, ids: Sequence[str]) -> None:
        with self._written_lock:
            self._written.setdefault(threading.get_ident(), set()).update(ids)

    # -- writes

    def insert(
        self, items: Sequence[tuple[Memory, Vector | None]], *, actor: str | None = None
    ) -> list[Change]:
        return self.backing.insert(items, actor=actor)  # new records are not resident

    def update(
        self,
        id: str,
        patch: Mapping[str, Any],
        *,
        vector: Vector | None = None,
        actor: str | None = None,
        if_version: int | None = None,
    ) -> Change:
        """The store's ``update`` (logged before it returns), with the record's pending patch
        merged into the same change; the hot copy follows."""
        if self._in_transaction():
            change = self.backing.update(
                id, patch, vector=vector, actor=actor, if_version=if_version
            )
            self._wrote([id])
            return change
        return self.tier.apply(id, patch, vector=vector, actor=actor, if_version=if_version)[0]

    def defer(self, id: str, patch: Mapping[str, Any], *, actor: str | None = None) -> Memory:
        """Apply ``patch`` by the tier's write policy: logged now (write-through), or kept as a
        dirty patch until write-back. Returns the record as its readers now see it."""
        if self._in_transaction():
            change = self.update(id, patch, actor=actor)
            assert change.after is not None
            return change.after
        return self.tier.update(id, patch, actor=actor)

    def edit(
        self,
        id: str,
        patch: Mapping[str, Any],
        *,
        vector: Vector | None = None,
        actor: str | None = None,
        if_version: int | None = None,
    ) -> Memory:
        """``defer`` when it can be (no vector, no version check), else ``update``; returns
        the record with its access counters."""
        if vector is None and if_version is None:
            return self.defer(id, patch, actor=actor)
        if self._in_transaction():
            change = self.update(id, patch, vector=vector, actor=actor, if_version=if_version)
            assert change.after is not None
            return change.after
        return self.tier.apply(id, patch, vector=vector, actor=actor, if_version=if_version)[1]

    def delete(self, ids: Sequence[str], *, actor: str | None = None) -> list[Change]:
        if self._in_transaction():
            changes = self.backing.delete(ids, actor=actor)
            self._wrote(ids)
            return changes
        return self.tier.delete(ids, actor=actor)

    def touch(self, keys: Sequence[int], when: float) -> None:
        """The store counts the accesses; resident copies count them too."""
        self.backing.touch(keys, when)
        if not len(self.tier):
            return
        unknown = [key for key in dict.fromkeys(keys) if key not in self._ids]
        if unknown:  # keys not read through this object (rare: search learns its hits')
            self._learn(self.backing.get_by_keys(unknown))
        self.tier.count_access([self._ids[key] for key in keys if key in self._ids], when)

    def page_in(self, memories: Sequence[Memory]) -> None:
        """Make records the caller just read and used resident (see ``HotTier.page_in``)."""
        if not self._in_transaction():
            self.tier.page_in(memories)

    def flush(self) -> None:
        """Write dirty patches back, then the store's buffered access counts."""
        self.write_back()
        self.backing.flush()

    # -- reads by id

    def get(self, id: str) -> Memory:
        if self._in_transaction():
            return self.backing.get(id)
        return self.tier.get(id)

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        if self._in_transaction():
            return self.backing.get_many(ids)
        return self.tier.get_many(ids)

    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Memory]:
        """Resident records from RAM, the rest from the store; nothing is promoted."""
        if self._in_transaction():
            return self.backing.get_by_keys(keys)
        known = {key: self._ids[key] for key in keys if key in self._ids}
        resident = self.tier.peek(known.values())
        found = {key: resident[id] for key, id in known.items() if id in resident}
        cold = [key for key in keys if key not in found]
        if cold:
            read = self.backing.get_by_keys(cold)
            found.update(read)
            self._learn(read)
        return found

    def _learn(self, read: Mapping[int, Memory]) -> None:
        """Remember which id each key names (bounded: past the bound, only resident ones)."""
        self._ids.update((key, memory.id) for key, memory in read.items())
        bound = 8 * max(len(self.tier), 1024)
        if len(self._ids) > bound:
            resident = self.tier.peek(self._ids.values())
            self._ids = {key: id for key, id in self._ids.items() if id in resident}

    def key_of(self, id: str) -> int:
        key = self.backing.key_of(id)
        self._ids[key] = id
        return key

    # -- reads by query (after write-back)

    def find_same_content(
        self, wanted: Sequence[ContentKey], *, now: float
    ) -> dict[ContentKey, Memory]:
        self._sync()
        return self.backing.find_same_content(wanted, now=now)

    def count(self, flt: Filter | None = None, *, now: float | None = None) -> int:
        self._sync()
        return self.backing.count(flt, now=now)

    def scan(
        self,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> Iterator[Memory]:
        self._sync()
        return self.backing.scan(
            flt, now=now, limit=limit, offset=offset, newest_first=newest_first
        )

    def heap(self) -> list[HeapEntry]:
        self._sync()
        return self.backing.heap()

    def expired(self, now: float, limit: int) -> list[Memory]:
        self._sync()
        return self.backing.expired(now, limit)

    def filter_keys(self, flt: Filter, *, now: float) -> Keys:
        self._sync()
        return self.backing.filter_keys(flt, now=now)

    def text_search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        self._sync()
        return self.backing.text_search(terms, k, flt, now=now, with_context=with_context)

    def text_bound(self, terms: Sequence[str], flt: Filter | None = None) -> float:
        self._sync()
        return self.backing.text_bound(terms, flt)

    def vectors(self, keys: Sequence[int]) -> Mapping[int, Vector]:
        return self.backing.vectors(keys)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[Keys, npt.NDArray[np.float32]]]:
        return self.backing.iter_vectors(batch)

    def io_stats(self) -> dict[str, int]:
        return self.backing.io_stats()

    def summary(self) -> dict[str, Any]:
        return self.backing.summary()

    # -- the log

    def last_lsn(self) -> int:
        return self.backing.last_lsn()

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        self._sync()
        return self.backing.changes(since_lsn, limit)

    def history(self, id: str) -> list[Change]:
        self._sync()
        return self.backing.history(id)

    def index_deltas(self, since_lsn: int) -> Iterator[IndexDelta]:
        return self.backing.index_deltas(since_lsn)

    # -- snapshots and time travel

    def ever_stored(
        self, user: str | None = None, agent: str | None = None, session: str | None = None
    ) -> list[str]:
        self._sync()
        return self.backing.ever_stored(user, agent, session)

    def purge(
        self, ids: Sequence[str], *, texts: Sequence[str] = (), actor: str | None = None
    ) -> PurgeReport:
        """The store's ``purge``, after writing back; the purged records leave the tier."""
        self._sync()
        resident = sum(1 for id in ids if id in self.tier)
        try:
            report = self.backing.purge(ids, texts=texts, actor=actor)
        finally:
            self.tier.discard(ids)
        return dataclasses.replace(report, hot_tier_evicted=resident)

    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        self._sync()
        return self.backing.checkpoint(name, overwrite=overwrite)

    def checkpoints(self) -> list[Checkpoint]:
        return self.backing.checkpoints()

    def delete_checkpoint(self, name: str) -> None:
        self.backing.delete_checkpoint(name)

    def restore(
        self, name: str | None, to_lsn: int | None = None, *, actor: str | None = None
    ) -> list[Change]:
        """The store's ``restore``, after writing back; the tier is emptied either way."""
        self._sync()
        try:
            return self.backing.restore(name, to_lsn, actor=actor)
        finally:
            self.tier.clear()

    def as_of(self, lsn: int) -> Store:
        self._sync()
        return self.backing.as_of(lsn)
