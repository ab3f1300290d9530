"""``HistoryMixin``: The operation log, checkpoints and restore.

Part of ``MemorySpace`` (see ``memoryspace.space``); the state it uses is declared in
``memoryspace.facade.state``.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from memoryspace import validate
from memoryspace.facade.state import SpaceState
from memoryspace.models import Change, Checkpoint
from memoryspace.settings import SHARED_SETTINGS, setting_key
from memoryspace.store import portable

if TYPE_CHECKING:
    pass

log = logging.getLogger("memoryspace")


class HistoryMixin(SpaceState):
    """The operation log, checkpoints and restore."""

    def history(self, id: str) -> list[Change]:
        """Every change of one memory, oldest first."""
        self._usable()
        return self.store.history(validate.memory_id(id))

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        """The change feed: log entries after ``since_lsn``, oldest first."""
        self._usable()
        since_lsn = validate.integer("since_lsn", since_lsn, low=0, high=validate.MAX_LSN)
        limit = validate.optional_integer("limit", limit, low=0, high=validate.MAX_ROWS)
        return self.store.changes(since_lsn, limit)

    @property
    def lsn(self) -> int:
        """The log sequence number of the last committed change (write-back edits count once
        flushed)."""
        return self.store.last_lsn()

    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        """A named, consistent snapshot tagged with the current LSN.

        Raises:
            InvalidInput: a name other than 1-64 letters, digits, '_', '.' or '-'.
        """
        self._usable()
        name = validate.checkpoint_name(name)
        overwrite = validate.flag("overwrite", overwrite)
        checkpoint = self.store.checkpoint(name, overwrite=overwrite)
        self._save_index_quietly()
        return checkpoint

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest LSN first, including damaged ones or another database's
        (``Checkpoint.damaged`` says why; ``restore`` refuses them)."""
        self._usable()
        return self.store.checkpoints()

    def restore(
        self, name: str | None, *, to_lsn: int | None = None, actor: str | None = None
    ) -> list[Change]:
        """Bring back the state of checkpoint ``name`` (or of ``to_lsn``), as logged changes.

        Nothing is lost: the restore can be undone by restoring to the LSN before it.

        Raises:
            NotFound: no checkpoint of that name.
            Conflict: the checkpoint was taken of another database.
            BackendUnavailable: the checkpoint file is damaged.
        """
        self._writable()
        name = None if name is None else validate.checkpoint_name(name)
        to_lsn = validate.optional_integer("to_lsn", to_lsn, low=0, high=validate.MAX_LSN)
        actor = validate.actor(actor)
        return self.store.restore(name, to_lsn, actor=actor)

    # -- portable checkpoints (memoryspace.store.portable)

    def export_checkpoint(
        self, name: str, path: str | os.PathLike[str]
    ) -> portable.PortableCheckpoint:
        """Write checkpoint ``name``'s state (records, vectors, embedder and shared settings) to
        a backend-neutral file at ``path`` that ``import_checkpoint`` reads into any database,
        SQLite or PostgreSQL. The log does not travel (see ``memoryspace.store.portable``).

        Raises:
            NotFound: no checkpoint of that name.
            Conflict, BackendUnavailable: the checkpoint is another database's, or damaged.
            DiskFull, ReadOnly, InvalidInput: ``path`` cannot be written.
        """
        self._usable()
        name = validate.checkpoint_name(name)
        where = validate.path(path)
        keys = [setting_key(n) for n in SHARED_SETTINGS]
        return portable.export_checkpoint(self.backing, name, where, setting_keys=keys)

    def import_checkpoint(
        self, path: str | os.PathLike[str], *, actor: str | None = None
    ) -> list[Change]:
        """Make this space's state equal to a portable checkpoint file's (written by
        ``export_checkpoint`` on any backend), as logged changes that can be undone; its
        settings are stored too (this handle keeps its own until reopened).

        Raises:
            InvalidInput: the file is not a sound portable checkpoint.
            Conflict: this database holds vectors of another embedder than the file's.
        """
        self._writable()
        where = validate.path(path)
        return portable.import_checkpoint(self.store, where, actor=validate.actor(actor))
