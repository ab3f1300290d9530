"""The horizon of a compacted op log: ``compact-log`` dropped every entry up to it.

Stored in the ``settings`` table (``HORIZON``; absent means the log is whole). Reading entries
from before it (the change feed, replay, a vector index catching up, time travel from a state
older than it) raises ``LogCompacted``: those entries are gone, and silently skipping them
would give wrong states.
"""

from __future__ import annotations

from typing import Protocol

from memoryspace.errors import LogCompacted

HORIZON = "log.compacted_through"


class HasSettings(Protocol):
    def get_setting(self, key: str) -> str | None: ...


def compacted_through(store: HasSettings) -> int:
    """The LSN up to which ``compact-log`` dropped ``store``'s log (0 when it never ran)."""
    return int(store.get_setting(HORIZON) or 0)


def check_kept(horizon: int, after_lsn: int, reader: str) -> None:
    """Raises ``LogCompacted`` when entries right after ``after_lsn`` were dropped."""
    if after_lsn < horizon:
        raise LogCompacted(
            f"{reader} needs the op log after LSN {after_lsn}, but compact-log dropped every "
            f"entry up to LSN {horizon}; what remains starts after LSN {horizon}: read from "
            f"there, or time travel only to states at or after the checkpoints taken since"
        )
