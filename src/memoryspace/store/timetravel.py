"""Time travel written once for every record store: ``as_of`` and ``restore``.

The state at any LSN is a base (a checkpoint at or before it, or the empty database) plus a
replay of the op log up to that LSN. How a backend builds that past state is its own business
(``TimeTravelling.replica``); what a restore does with it is the same everywhere: it never
rewinds the log, it appends the changes that turn the live state into the past one, computed
and applied inside one write transaction, so a restore can itself be undone.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from memoryspace.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from memoryspace.models import Change, Checkpoint, Memory
from memoryspace.store.base import Store, Vector
from memoryspace.store.oplog import LogRow

FOREIGN = "taken of another database"
_logger = logging.getLogger(__name__)


class TimeTravelling(Store, Protocol):
    """What a store offers so that ``as_of`` and ``restore`` can be written once."""

    def log_rows(self, after_lsn: int, upto_lsn: int) -> list[LogRow]:
        """Raw log entries in (after_lsn, upto_lsn], oldest first."""
        ...

    def replica(self, lsn: int, base: Checkpoint | None) -> Store:
        """A read-only store holding the state right after ``lsn``, built from ``base`` (a
        sound checkpoint at or before ``lsn``; ``None`` for the empty database) and the log."""
        ...


def check_usable(checkpoint: Checkpoint) -> None:
    """Refuse a damaged or foreign checkpoint.

    Raises:
        Conflict: it was taken of another database.
        BackendUnavailable: it is damaged.
    """
    if checkpoint.damaged is None:
        return
    if checkpoint.damaged.startswith(FOREIGN):
        raise Conflict(
            f"checkpoint {checkpoint.name!r} ({checkpoint.path}) was {checkpoint.damaged}; it "
            "cannot be restored here: open the database it belongs to, or delete the file"
        )
    raise BackendUnavailable(
        f"checkpoint {checkpoint.name!r} ({checkpoint.path}) is damaged: {checkpoint.damaged}; "
        "delete it, restore another checkpoint, or restore(None, to_lsn=...) from the log"
    )


def find(store: Store, name: str) -> Checkpoint:
    """The checkpoint called ``name``.

    Raises:
        NotFound: there is none.
    """
    for checkpoint in store.checkpoints():
        if checkpoint.name == name:
            return checkpoint
    raise NotFound(f"no checkpoint named {name!r}; list them with checkpoints()")


def check_lsn(store: Store, lsn: int) -> None:
    """Raises ``InvalidInput`` unless ``lsn`` is an integer from 0 to the end of the log."""
    last = store.last_lsn()
    if isinstance(lsn, bool) or not isinstance(lsn, int) or lsn < 0 or lsn > last:
        raise InvalidInput(f"LSN must be an integer from 0 to {last} (the end of the log)")


def newest_base(store: Store, lsn: int) -> Checkpoint | None:
    """The newest sound checkpoint at or before ``lsn`` (damaged ones skipped, with a warning)."""
    everything = store.checkpoints()
    skipped = [c.name for c in everything if c.damaged is not None]
    if skipped:
        _logger.warning("skipping damaged or foreign checkpoints %s", skipped)
    candidates = [c for c in everything if c.damaged is None and c.lsn <= lsn]
    return candidates[-1] if candidates else None


def as_of(store: TimeTravelling, lsn: int) -> Store:
    """A read-only view of the state right after ``lsn`` was committed.

    Raises:
        InvalidInput: ``lsn`` is negative or after the end of the log.
    """
    check_lsn(store, lsn)
    return store.replica(lsn, newest_base(store, lsn))


def restore(
    store: TimeTravelling, name: str | None, to_lsn: int | None, *, actor: str | None
) -> list[Change]:
    """Make the live state equal the state at checkpoint ``name`` (or at ``to_lsn`` after it;
    ``name=None`` replays from the empty log), logged as ordinary changes.

    Raises:
        NotFound: no checkpoint of that name.
        InvalidInput: ``to_lsn`` is before the checkpoint or after the end of the log.
        Conflict, BackendUnavailable: the checkpoint is another database's, or damaged.
    """
    base = find(store, name) if name is not None else None
    if base is not None:
        check_usable(base)
    if to_lsn is None:
        if base is None:
            raise InvalidInput("name a checkpoint, or give to_lsn to restore from the log alone")
        to_lsn = base.lsn
    if base is not None and to_lsn < base.lsn:
        raise InvalidInput(
            f"checkpoint {name!r} is at LSN {base.lsn}; to go back to LSN {to_lsn}, restore "
            "an older checkpoint or pass name=None to replay the log from the start"
        )
    check_lsn(store, to_lsn)
    past = store.replica(to_lsn, base)
    who = actor or f"restore:{name or 'log'}@{to_lsn}"
    changes: list[Change] = []
    try:
        store.flush()  # batched access counters first (after the checks: a refusal writes nothing)
        with store.transaction():  # the diff is computed and applied under the write lock
            touched = sorted({row[3] for row in store.log_rows(to_lsn, store.last_lsn())})
            for id in touched:
                changes.extend(converge(store, past, id, who))
    finally:
        past.close()
    return changes


def converge(store: Store, past: Store, id: str, actor: str) -> list[Change]:
    """Log the change that makes memory ``id`` in ``store`` equal to it in ``past``."""
    then = _lookup(past, id)
    now = _lookup(store, id)
    if then is None and now is None:
        return []
    if then is None:
        return store.delete([id], actor=actor)
    vector = _vector(past, id)
    if now is None:
        return store.insert([(then, vector)], actor=actor)
    current = _vector(store, id)
    if then.content_state() == now.content_state() and _same(vector, current):
        return []
    if vector is None and current is not None:
        # An update cannot drop a vector (None means "keep it"), so the record is re-added
        # without one; the log and the index deltas then say so.
        return [*store.delete([id], actor=actor), *store.insert([(then, None)], actor=actor)]
    patch = {
        name: value
        for name, value in then.content_state().items()
        if name != "id" and value != now.content_state()[name]
    }
    return [store.update(id, patch, vector=vector, actor=actor)]


def _lookup(store: Store, id: str) -> Memory | None:
    try:
        return store.get(id).evolve(access_count=0, last_access=None)
    except NotFound:
        return None


def _vector(store: Store, id: str) -> Vector | None:
    key = store.key_of(id)
    return store.vectors([key]).get(key)


def _same(a: Vector | None, b: Vector | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(np.array_equal(a, b))
