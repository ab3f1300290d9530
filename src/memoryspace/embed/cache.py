"""A persistent embedding cache in its own SQLite file, and an Embedder that uses it.

Vectors are keyed by ``(model_id, sha256(text))``, so a text is embedded once per model across
processes and restarts. The cache is bounded by entries and by bytes; when a write goes over a
bound, the least recently used rows are culled in batches by one indexed ``ORDER BY last_used``
query, the way diskcache culls. "Recently" is a logical tick bumped by each write transaction,
so the order does not depend on the wall clock.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from memoryspace.cachedir import cache_dir
from memoryspace.embed.base import CosineScale, Embedder, Vectors, cosine_scale
from memoryspace.errors import BackendUnavailable, InvalidInput

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id  TEXT    NOT NULL,
    text_hash BLOB    NOT NULL,
    vector    BLOB    NOT NULL,
    size      INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS embeddings_last_used ON embeddings (last_used);
CREATE TABLE IF NOT EXISTS totals (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    entries INTEGER NOT NULL,
    bytes   INTEGER NOT NULL,
    tick    INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (0, 0, 0, 0);
CREATE TRIGGER IF NOT EXISTS embeddings_insert AFTER INSERT ON embeddings BEGIN
    UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.size WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS embeddings_delete AFTER DELETE ON embeddings BEGIN
    UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.size WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS embeddings_resize AFTER UPDATE OF size ON embeddings BEGIN
    UPDATE totals SET bytes = bytes - OLD.size + NEW.size WHERE id = 0;
END;
"""
_CHUNK = 500  # rows per statement, well under SQLite's bound-parameter limit
_CULL_BATCH = 1000
_FILE_NAME = "embeddings.sqlite"


def default_cache_path() -> Path:
    """``$MEMORYSPACE_CACHE/embeddings.sqlite``, else ``~/.cache/memoryspace/embeddings.sqlite``."""
    return cache_dir() / _FILE_NAME


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class CacheStats:
    """Hits and misses since this cache object was opened; entries and bytes stored in total.

    ``bytes`` counts the vector blobs plus their keys, not SQLite's own overhead.
    """

    hits: int
    misses: int
    entries: int
    bytes: int


class EmbeddingCache:
    """Vectors by ``(model_id, text)`` in a SQLite file (``None``: in memory, for tests).

    One connection per process guarded by a lock, WAL mode and a busy timeout, so threads and
    processes can share one file; writes use ``BEGIN IMMEDIATE``. Use it as a context manager
    or call ``close()``.

    Raises:
        InvalidInput: a bound is not positive (at construction).
        BackendUnavailable: the file cannot be opened or is not a cache database.
    """

    def __init__(
        self,
        path: str | Path | None,
        *,
        max_entries: int = 200_000,
        max_bytes: int = 512 * 1024 * 1024,
        busy_timeout: float = 10.0,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise InvalidInput(f"bounds must be positive, got {max_entries=} and {max_bytes=}")
        self._path = Path(path) if path is not None else None
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()
        self._hits = 0
        self._misses = 0
        self._closed = False
        self._pid = os.getpid()
        self._con = self._connect()

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:"
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self._path)
        try:
            con = sqlite3.connect(
                target, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open the embedding cache at {target}: {exc}") from exc
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if self._path is not None:
                con.execute("PRAGMA journal_mode = WAL")
                con.execute("PRAGMA synchronous = NORMAL")  # a lost tail only costs re-embedding
            con.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            con.close()
            raise BackendUnavailable(f"cannot open the embedding cache at {target}: {exc}") from exc
        return con

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """Hold the lock (and a write transaction); reconnect first if the process forked."""
        with self._lock:
            if self._closed:
                raise BackendUnavailable("this EmbeddingCache is closed; open a new one")
            if os.getpid() != self._pid:  # a connection must not cross fork()
                self._pid = os.getpid()
                self._con = self._connect()
            con = self._con
            if not write:
                try:
                    yield con
                except sqlite3.Error as exc:
                    raise BackendUnavailable(f"embedding cache failed: {exc}") from exc
                return
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            except sqlite3.Error as exc:
                raise BackendUnavailable(f"embedding cache failed: {exc}") from exc

    def _tick(self, con: sqlite3.Connection) -> int:
        (tick,) = con.execute(
            "UPDATE totals SET tick = tick + 1 WHERE id = 0 RETURNING tick"
        ).fetchone()
        return int(tick)

    def get_many(self, model_id: str, texts: Sequence[str]) -> list[Vectors | None]:
        """Cached vector for each text (None where absent); hits become most recently used.

        Raises:
            BackendUnavailable: the cache is closed or its file fails.
        """
        keys = [_text_key(text) for text in texts]
        found: dict[bytes, bytes] = {}
        with self._transaction() as con:
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(
                    "SELECT text_hash, vector FROM embeddings "
                    f"WHERE model_id = ? AND text_hash IN ({marks})",
                    [model_id, *chunk],
                )
                found.update(rows)
            hit_keys = list(found)
            if hit_keys:
                tick = self._tick(con)
                for start in range(0, len(hit_keys), _CHUNK):
                    chunk = hit_keys[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    con.execute(
                        "UPDATE embeddings SET last_used = ? "
                        f"WHERE model_id = ? AND text_hash IN ({marks})",
                        [tick, model_id, *chunk],
                    )
            result: list[Vectors | None] = []
            for key in keys:
                blob = found.get(key)
                result.append(None if blob is None else np.frombuffer(blob, dtype="<f4").copy())
            hits = sum(vector is not None for vector in result)
            self._hits += hits
            self._misses += len(result) - hits
        return result

    def put_many(self, model_id: str, texts: Sequence[str], vectors: Vectors) -> None:
        """Store one vector per text (replacing older ones), then cull to the bounds.

        Raises:
            InvalidInput: ``vectors`` is not a 2-D array with one row per text.
            BackendUnavailable: the cache is closed or its file fails.
        """
        array = np.asarray(vectors)
        if array.ndim != 2 or array.shape[0] != len(texts):
            raise InvalidInput(
                f"put_many needs one vector row per text: {len(texts)} texts, shape {array.shape}"
            )
        array = array.astype("<f4", copy=False)
        model_bytes = len(model_id.encode("utf-8"))
        rows = []
        for text, row in zip(texts, array, strict=True):
            key = _text_key(text)
            blob = row.tobytes()
            rows.append((model_id, key, blob, len(blob) + len(key) + model_bytes))
        with self._transaction() as con:
            tick = self._tick(con)
            con.executemany(
                "INSERT INTO embeddings (model_id, text_hash, vector, size, last_used) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_id, text_hash) DO UPDATE SET "
                "vector = excluded.vector, size = excluded.size, last_used = excluded.last_used",
                [(*row, tick) for row in rows],
            )
            self._cull(con)

    def delete_many(self, model_id: str, texts: Sequence[str]) -> int:
        """Forget the vectors of ``texts`` for ``model_id``; returns how many were stored.

        Raises:
            BackendUnavailable: the cache is closed or its file fails.
        """
        keys = list(dict.fromkeys(_text_key(text) for text in texts))
        deleted = 0
        with self._transaction() as con:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                deleted += con.execute(
                    f"DELETE FROM embeddings WHERE model_id = ? AND text_hash IN ({marks})",
                    [model_id, *chunk],
                ).rowcount
        return deleted

    def _cull(self, con: sqlite3.Connection) -> None:
        """Delete least recently used rows, a batch at a time, until both bounds hold."""
        while True:
            entries, size = con.execute("SELECT entries, bytes FROM totals WHERE id = 0").fetchone()
            if entries <= self._max_entries and size <= self._max_bytes:
                return
            over_bytes = size - self._max_bytes
            average = max(size // max(entries, 1), 1)
            excess = max(entries - self._max_entries, -(-over_bytes // average), 1)
            con.execute(
                "DELETE FROM embeddings WHERE (model_id, text_hash) IN "
                "(SELECT model_id, text_hash FROM embeddings ORDER BY last_used LIMIT ?)",
                (min(excess, _CULL_BATCH),),
            )

    def stats(self) -> CacheStats:
        """Hits and misses of this object, entries and bytes of the whole file.

        Raises:
            BackendUnavailable: the cache is closed or its file fails.
        """
        with self._transaction(write=False) as con:
            entries, size = con.execute("SELECT entries, bytes FROM totals WHERE id = 0").fetchone()
            return CacheStats(self._hits, self._misses, int(entries), int(size))

    def clear(self) -> None:
        """Delete every cached vector, of every model.

        Raises:
            BackendUnavailable: the cache is closed or its file fails.
        """
        with self._transaction() as con:
            con.execute("DELETE FROM embeddings")

    def close(self) -> None:
        """Close the file; later calls raise ``BackendUnavailable``. Safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._con.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class CachedEmbedder:
    """An Embedder that asks ``inner`` only for texts ``cache`` does not hold yet.

    Same ``model_id`` and ``dimension`` as ``inner``. Within one call each distinct missing text
    is embedded once; two threads missing the same new text at the same moment may both embed
    it (the cache then keeps one copy).
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self._inner = inner
        self._cache = cache

    @property
    def inner(self) -> Embedder:
        """The embedder behind the cache."""
        return self._inner

    @property
    def cache(self) -> EmbeddingCache:
        """The cache of vectors already computed."""
        return self._cache

    @property
    def model_id(self) -> str:
        """The inner embedder's id."""
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        """The inner embedder's dimension."""
        return self._inner.dimension

    @property
    def cosine_scale(self) -> CosineScale:
        """The inner embedder's scale (see ``memoryspace.embed.base.cosine_scale``)."""
        return cosine_scale(self._inner)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return cached vectors where present and embed, store and return the rest.

        Raises:
            InvalidInput: a text is not a string, or ``inner`` returns the wrong shape.
            BackendUnavailable: from the cache or from ``inner``.
        """
        if isinstance(texts, str):
            raise InvalidInput("embed() takes a sequence of strings; wrap a single text in a list")
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(f"texts[{row}] is {type(text).__name__}, not str")
        model_id = self._inner.model_id
        dimension = self._inner.dimension
        out = np.zeros((len(texts), dimension), dtype=np.float32)
        cached = self._cache.get_many(model_id, texts)
        missing: dict[str, list[int]] = {}
        for row, (text, vector) in enumerate(zip(texts, cached, strict=True)):
            if vector is not None and vector.shape == (dimension,):
                out[row] = vector
            else:
                missing.setdefault(text, []).append(row)
        if missing:
            fresh_texts = list(missing)
            fresh = np.asarray(self._inner.embed(fresh_texts), dtype=np.float32)
            if fresh.shape != (len(fresh_texts), dimension):
                raise InvalidInput(
                    f"{model_id} returned shape {fresh.shape} for {len(fresh_texts)} texts"
                )
            self._cache.put_many(model_id, fresh_texts, fresh)
            for text, vector in zip(fresh_texts, fresh, strict=True):
                out[missing[text]] = vector
        return out
