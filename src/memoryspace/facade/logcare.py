"""``LogCareMixin``: compacting the op log and vacuuming the database.

Part of ``MemorySpace`` (see ``memoryspace.space``); the state it uses is declared in
``memoryspace.facade.state``.
"""

from __future__ import annotations

from memoryspace.errors import InvalidInput
from memoryspace.facade.state import SpaceState
from memoryspace.store.compaction import Compaction, compact_log
from memoryspace.store.vacuum import Vacuumed, vacuum


class LogCareMixin(SpaceState):
    """Compacting the op log and vacuuming the database."""

    def compact_log(self, keep_after: str | int) -> Compaction:
        """Drop the log's entries up to checkpoint ``keep_after`` (a name), or up to LSN
        ``keep_after`` when a sound checkpoint is at or after it (see
        ``memoryspace.store.compaction``). Time travel to earlier states then raises
        ``LogCompacted``; ``vacuum`` returns the freed space to the file system.

        Raises:
            InvalidInput: ``keep_after`` is neither a name nor an LSN of this log.
            NotFound: no checkpoint of that name.
            Conflict: no sound checkpoint holds the state there, or the database is PostgreSQL.
        """
        self._writable()
        if isinstance(keep_after, bool) or not isinstance(keep_after, str | int):
            raise InvalidInput("keep_after must be a checkpoint name (str) or an LSN (int)")
        self.flush()
        result = compact_log(self.backing, keep_after)
        self._save_index_quietly()  # an index saved before the horizon is rebuilt
        return result

    def vacuum(self) -> Vacuumed:
        """Give the space freed by deletes and ``compact_log`` back to the file system (see
        ``memoryspace.store.vacuum``), and re-save the vector index rebuilt compact.

        Raises:
            ReadOnly: a read-only view or file.
            BackendUnavailable: another process held the database too long.
        """
        self._writable()
        self.flush()
        result = vacuum(self.backing)
        self.index.rebuild()
        self._save_index_quietly()
        return result
