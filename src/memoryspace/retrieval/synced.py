"""A vector index that follows the store's operation log.

The store is the source of truth. The index is loaded from beside the database (stamped with the
LSN it reflects and the database's id), rebuilt when missing, damaged or another database's, and
caught up from the log before each search, so writes by other threads and processes are seen.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from memoryspace.index import AdaptiveIndex, ExactIndex, load_index, save_index
from memoryspace.index.base import Keys, Scores, Vectors
from memoryspace.index.exact import ExactSnapshot
from memoryspace.index.hnsw import HNSWIndex
from memoryspace.models import Op
from memoryspace.store.base import Store
from memoryspace.store.failures import from_os
from memoryspace.store.loghorizon import compacted_through

_logger = logging.getLogger(__name__)


class SyncedIndex:
    """An ``AdaptiveIndex`` kept equal to the vectors in a store."""

    def __init__(
        self,
        store: Store,
        *,
        dimension: int,
        model_id: str,
        ann_threshold: int,
        path: str | Path | None,
        precision: str = "float32",
    ) -> None:
        self._store = store
        self._dimension = dimension
        self._model_id = model_id
        self._ann_threshold = ann_threshold
        self._precision = precision
        self._path = None if path is None else Path(path)
        self._lock = threading.RLock()
        self._saver: threading.Thread | None = None  # a background save (save_in_background)
        self._generation = 0  # rebuilds so far: a save that began before one is not the index
        self.rebuilt = False
        self._database_id: str | None = getattr(store, "database_id", None)
        loaded = (
            None
            if self._path is None
            else load_index(
                self._path,
                dimension=dimension,
                model_id=model_id,
                database_id=self._database_id,
                ann_threshold=ann_threshold,
                precision=precision,
            )
        )
        if loaded is not None and loaded[1] <= store.last_lsn():
            self._index, self.lsn = loaded
        else:
            self._rebuild()
        self._saved_lsn = self.lsn if loaded is not None and not self.rebuilt else -1
        self.sync()

    def _rebuild(self) -> None:
        # Read the LSN first: deltas after it are replayed by sync(); replaying one twice is
        # harmless (add replaces, remove ignores unknown keys).
        # Everything goes into an exact index first: searches can use it at once, and the HNSW
        # graph (past the threshold) is then built from it in the background, in one pass.
        self.lsn = self._store.last_lsn()
        exact = ExactIndex(self._dimension)
        for keys, vectors in self._store.iter_vectors():
            exact.add(keys, vectors)
        self._index = AdaptiveIndex.wrap(
            exact, ann_threshold=self._ann_threshold, precision=self._precision
        )
        self._generation += 1
        self.rebuilt = True

    def rebind(self, *, dimension: int, model_id: str) -> None:
        """Follow another embedder's vectors (after a re-embedding): rebuilt from the store."""
        with self._lock:
            self._dimension, self._model_id = dimension, model_id
            self._rebuild()
            self._saved_lsn = -1

    def rebuild(self) -> None:
        """Rebuild the index from the store's vectors (compact: no removed slots), to be saved
        anew by the next ``save``."""
        with self._lock:
            self._rebuild()
            self._saved_lsn = -1

    def sync(self) -> int:
        """Apply log entries newer than the index; returns how many were applied (an index
        older than a compacted log's horizon is rebuilt from the store instead)."""
        with self._lock:
            target = self._store.last_lsn()
            if target == self.lsn:
                return 0
            if self.lsn < compacted_through(self._store):
                self.rebuild()
                return 0
            applied = 0
            pending_keys: list[int] = []
            pending_vectors: list[Vectors] = []

            def flush_adds() -> None:
                if pending_keys:
                    self._index.add(
                        np.array(pending_keys, dtype=np.int64), np.vstack(pending_vectors)
                    )
                    pending_keys.clear()
                    pending_vectors.clear()

            for delta in self._store.index_deltas(self.lsn):
                if delta.op == Op.DELETE or delta.vector is None:
                    flush_adds()
                    self._index.remove(np.array([delta.key], dtype=np.int64))
                else:
                    if delta.key in pending_keys:
                        flush_adds()
                    pending_keys.append(delta.key)
                    pending_vectors.append(delta.vector)
                self.lsn = delta.lsn
                applied += 1
            flush_adds()
            # Entries up to target without vectors (plain updates) need nothing from the index.
            self.lsn = max(self.lsn, target)
            return applied

    def search(self, query: Vectors, k: int, allowed: Keys | None = None) -> tuple[Keys, Scores]:
        with self._lock:
            self.sync()
            if len(self._index) == 0 or (allowed is not None and len(allowed) == 0):
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            return self._index.search(query, k, allowed=allowed)

    @property
    def unsaved(self) -> int:
        """Log entries applied since the last save (all of them when never saved)."""
        if self._path is None:
            return 0
        return self.lsn - max(self._saved_lsn, 0)

    def save(self) -> bool:
        """Persist the index beside the database if it changed since the last save (after a
        background save still running has finished).

        Raises:
            DiskFull, ReadOnly, InvalidInput, BackendUnavailable: the files could not be
                written (the previous index, if any, is untouched; the store lost nothing).
        """
        self.wait_for_save()
        with self._lock:
            if self._path is None or self.lsn == self._saved_lsn:
                return False
            self._write(self._index, self.lsn)
            self._saved_lsn = self.lsn
            return True

    def save_in_background(self) -> bool:
        """Start saving the index in a thread, from a copy taken under the lock (an exact
        index's arrays shared copy on write; an HNSW graph copied in memory, about half the
        time a file save takes), so that no write waits for the file. ``False`` when there is
        nothing to save or a save is still running. A failure is logged, not raised: the index
        is derived state, and the next open catches up from the last file that was saved.
        """
        with self._lock:
            if self._path is None or self.lsn == self._saved_lsn:
                return False
            if self._saver is not None and self._saver.is_alive():
                return False
            self._saver = threading.Thread(
                target=self._save_snapshot, name="memoryspace-index-save", daemon=True
            )
            self._saver.start()
            return True

    def wait_for_save(self) -> None:
        """Wait for a background save (``save_in_background``) to finish, if one runs."""
        saver = self._saver
        if saver is not None:
            saver.join()

    def _save_snapshot(self) -> None:
        """The background saver: a frozen copy and its LSN under the lock, the files without."""
        try:
            with self._lock:
                frozen, lsn, generation = self._index.frozen(), self.lsn, self._generation
            self._write(frozen, lsn)
            with self._lock:
                if generation == self._generation:  # not rebuilt meanwhile (that saves anew)
                    self._saved_lsn = max(self._saved_lsn, lsn)
        except Exception as exc:  # a thread has no caller to raise to
            _logger.warning(
                "the vector index was not saved (%s); it is caught up on next open", exc
            )

    def _write(self, index: AdaptiveIndex | ExactSnapshot | HNSWIndex, lsn: int) -> None:
        assert self._path is not None
        try:
            save_index(
                index,
                self._path,
                lsn=lsn,
                model_id=self._model_id,
                database_id=self._database_id,
                precision=self._precision,
            )
        except OSError as exc:
            raise from_os(exc, str(self._path), "saving the vector index") from exc

    @property
    def kind(self) -> str:
        return self._index.kind

    @property
    def precision(self) -> str:
        """How the HNSW graph stores vectors (``Settings.vector_precision``)."""
        return self._index.precision

    @property
    def building(self) -> bool:
        """Whether the HNSW graph is being built in the background (searches are exact then)."""
        return self._index.building

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for a background HNSW build; ``True`` when none is running now."""
        return self._index.wait_for_build(timeout)

    def cancel_build(self) -> None:
        """Stop a background HNSW build; the index stays exact (e.g. a read-only space closing)."""
        self._index.cancel_build()

    def __len__(self) -> int:
        return len(self._index)
