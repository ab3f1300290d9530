"""Re-embedding a database with another embedder: batched, logged, resumable after a crash.

    ms.reembed("minilm")                                 # Python, on an open space
    memoryspace reembed --embedder minilm --db my.db    # the CLI (opens the file itself)

Every memory (archived and expired ones too) gets the new embedder's vector of its content, a
batch at a time: one embedding call and one store transaction per batch. Each vector is written
as a logged change with no field changed (actor ``reembed``), so the vector index follows the
log as for any edit, and ``history(id)`` shows the step. The write is conditional on the record's
version as read (compare-and-set): a record edited meanwhile is read and embedded again.

Progress lives in the database's settings: ``reembed.target`` and ``reembed.dimension`` (the
new model) and ``reembed.start_lsn`` (the log position when the job began). A memory whose
version (the LSN of its last change) is above ``start_lsn`` is done, so a job killed at any point
resumes where it stopped when run again with the same embedder; what was committed is never
embedded twice. Only when every memory is done is the database stamped with the new
``embedder.model_id`` and ``embedder.dimension`` (and the progress cleared): until then it still
opens with the old embedder (``MemorySpace.open`` says a job is unfinished, and refuses to open
the database while one that changes the dimension is, since its vectors are of two sizes). Run
it while no other process writes with the old embedder: a memory such a process adds or edits
after the job began keeps an old vector.

``reembed_file`` re-embeds a database file without opening a space (the CLI uses it, so the old
embedder need not be installed); the vector index beside the file, stamped with the old model,
is rebuilt on the next open. ``MemorySpace.reembed`` does it on an open space and switches the
space to the new embedder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from memoryspace.embed.base import Embedder, Vectors
from memoryspace.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from memoryspace.models import Filter, Memory
from memoryspace.store.base import Store

log = logging.getLogger("memoryspace.reembed")

TARGET = "reembed.target"
TARGET_DIMENSION = "reembed.dimension"
START_LSN = "reembed.start_lsn"
MODEL = "embedder.model_id"
DIMENSION = "embedder.dimension"
_RETRIES = 3

Progress = Callable[[int, int], None]  # (memories done, memories in all)


@dataclass(frozen=True, slots=True)
class ReembedResult:
    """What a re-embedding did: ``reembedded`` memories written by this run, ``already_done``
    skipped because an earlier (killed) run wrote them, ``resumed`` whether one had begun."""

    model_id: str
    previous_model_id: str | None
    dimension: int
    reembedded: int
    already_done: int
    batches: int
    resumed: bool


class StoredEmbedder:
    """Stands for a database's recorded embedder (by id and dimension) when it is not
    available, so the database can be opened to be re-embedded; it embeds nothing.

    Raises:
        BackendUnavailable: on ``embed`` (the hint says how to re-embed).
    """

    def __init__(self, model_id: str, dimension: int) -> None:
        self._model_id = model_id
        self._dimension = dimension

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        raise BackendUnavailable(
            f"this database was embedded by {self._model_id!r}, which is not available here; "
            "re-embed it with one that is: memoryspace reembed --embedder NAME --db PATH"
        )


def stored_embedder(store: Store, fallback: Embedder) -> Embedder:
    """A stand-in for the embedder ``store`` records, or ``fallback`` when it records none."""
    model = store.get_setting(MODEL)
    dimension = store.get_setting(DIMENSION)
    if model is None or dimension is None:
        return fallback
    return StoredEmbedder(model, int(dimension))


def pending_target(store: Store) -> str | None:
    """The model an unfinished re-embedding of ``store`` is moving to, if any."""
    return store.get_setting(TARGET) or None


def check_unfinished(store: Store, opening: Embedder) -> None:
    """Whether a space may open ``store`` with ``opening`` while a re-embedding is unfinished:
    with the old model of the same dimension it may (its searches see vectors of both models,
    so a warning is logged); otherwise the job must be finished first.

    Raises:
        Conflict: the job changes the dimension, or ``opening`` is the job's new model.
    """
    target = pending_target(store)
    if target is None:
        return
    finish = (
        f"a re-embedding of this database to {target!r} is unfinished; finish it with "
        "memoryspace reembed --embedder NAME --db PATH (it resumes where it stopped)"
    )
    dimension = store.get_setting(TARGET_DIMENSION)
    if opening.model_id == target or (dimension and int(dimension) != opening.dimension):
        raise Conflict(finish)
    log.warning("%s; until then searches see vectors of two models", finish)


def reembed_file(
    path: str | os.PathLike[str],
    embedder: Embedder,
    *,
    batch: int = 256,
    progress: Progress | None = None,
) -> ReembedResult:
    """``reembed_store`` on the database at ``path``, opened (not created) for the job alone.

    Raises:
        NotFound: no database at ``path``.
        InvalidInput, BackendUnavailable, Conflict: as ``reembed_store``, or a bad path.
    """
    from memoryspace import validate
    from memoryspace.store.sqlite import SQLiteStore

    store = SQLiteStore(validate.path(path), create=False)
    try:
        return reembed_store(store, embedder, batch=batch, progress=progress)
    finally:
        store.close()


def reembed_store(
    store: Store,
    embedder: Embedder,
    *,
    batch: int = 256,
    progress: Progress | None = None,
    actor: str = "reembed",
) -> ReembedResult:
    """Give every memory of ``store`` ``embedder``'s vector, then stamp the store with it (see
    the module docstring). Resumes an unfinished job to the same model.

    Raises:
        InvalidInput: ``batch`` below 1, or an embedder that returns vectors of another shape.
        BackendUnavailable: the embedder cannot run (nothing of this batch is written).
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidInput(f"batch must be a positive number of memories, got {batch!r}")
    _checked(embedder, embedder.embed(["re-embedding"]), 1)  # fails here, before any record
    target, previous = embedder.model_id, store.get_setting(MODEL)
    started = store.get_setting(START_LSN)
    resumed = pending_target(store) == target and started is not None
    if not resumed:
        if pending_target(store) is not None:
            log.warning(
                "an unfinished re-embedding to %r is abandoned for %r",
                pending_target(store),
                target,
            )
        started = str(store.last_lsn())
        store.set_setting(START_LSN, started)
        store.set_setting(TARGET_DIMENSION, str(embedder.dimension))
        store.set_setting(TARGET, target)
    start_lsn = int(started or 0)
    everything = Filter(include_expired=True, include_archived=True)
    total = store.count(everything)
    done = skipped = batches = 0
    offset = 0
    log.info("re-embedding %d memories with %r (from %r)", total, target, previous)
    while True:
        page = list(store.scan(everything, limit=batch, offset=offset))
        if not page:
            break
        offset += len(page)
        todo = [memory for memory in page if memory.version <= start_lsn]
        skipped += len(page) - len(todo)
        if todo:
            _write_batch(store, embedder, todo, actor)
            batches += 1
        done += len(todo)
        log.info("re-embedded %d of %d memories", done + skipped, total)
        if progress is not None:
            progress(done + skipped, total)
    with store.transaction():  # the stamp and the end of the job, together
        store.set_setting(MODEL, target)
        store.set_setting(DIMENSION, str(embedder.dimension))
        store.set_setting(TARGET, "")
    log.info("re-embedded %d memories; the database now holds vectors of %r", done, target)
    return ReembedResult(
        target, previous, embedder.dimension, done, skipped, batches, resumed and skipped > 0
    )


def _write_batch(store: Store, embedder: Embedder, memories: list[Memory], actor: str) -> None:
    """Embed ``memories`` and write their vectors in one transaction; a memory edited since it
    was read is read and embedded again (a deleted one is left out)."""
    for _ in range(_RETRIES):
        vectors = _checked(embedder, embedder.embed([m.content for m in memories]), len(memories))
        changed: list[str] = []
        with store.transaction():
            for memory, vector in zip(memories, vectors, strict=True):
                try:
                    store.update(
                        memory.id, {}, vector=vector, actor=actor, if_version=memory.version
                    )
                except NotFound:
                    continue
                except Conflict:
                    changed.append(memory.id)
        if not changed:
            return
        memories = store.get_many(changed)
    raise Conflict(
        f"{len(memories)} memories kept changing while being re-embedded; stop the other "
        "writers and run the re-embedding again (it resumes)"
    )


def _checked(embedder: Embedder, vectors: Vectors, count: int) -> Vectors:
    array = np.asarray(vectors, dtype=np.float32)
    if array.shape != (count, embedder.dimension):
        raise InvalidInput(
            f"embedder {embedder.model_id!r} returned vectors of shape {array.shape}, expected "
            f"({count}, {embedder.dimension})"
        )
    return array
