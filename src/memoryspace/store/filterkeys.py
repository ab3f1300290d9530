"""``FilterKeys``: the keys a filter selects, remembered until the log moves.

A filtered dense search first asks the store which keys the filter allows (``filter_keys``).
For a user's scope that is one row read per memory of the user, to check whether it is archived,
expired or superseded (about 3 ms per 1,000 memories), on every search; the same scopes recur
across searches. The rows change only through logged writes, so the answer is remembered until
the op log moves (``memoryspace.store.logversion``). Only the parts of the filter that do not
depend on the time are remembered: each key's ``expires_at`` and ``valid_to`` are kept beside it
and compared with the time of each call, so a memory that expires meanwhile is left out exactly
as the SQL would. Thread-safe.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from memoryspace.models import Filter
from memoryspace.store.base import Keys
from memoryspace.store.codec import where_clause
from memoryspace.store.connections import Connections
from memoryspace.store.logversion import LogVersioned, log_sequence

Times = npt.NDArray[np.float64]
# Keys kept over all remembered filters (16 bytes of times and 8 of key each: ~24 MB); a
# filter selecting more than an eighth of that (a one-off sweep such as a migration's) is not
# remembered.
MAX_KEYS = 1_000_000


class FilterKeys(LogVersioned):
    """The keys ``filter_keys`` returns, remembered per filter until the log moves."""

    def __init__(self, db: Connections, *, max_keys: int = MAX_KEYS) -> None:
        super().__init__()
        self._db = db
        self._max_keys = max_keys
        self._entries: OrderedDict[tuple[object, ...], tuple[Keys, Times, Times]] = OrderedDict()
        self._held = 0
        self.hits = self.misses = 0

    def _forget(self) -> None:
        self._entries.clear()
        self._held = 0

    def keys(self, flt: Filter, now: float) -> Keys:
        """The keys of the memories ``flt`` selects at time ``now``, in the order
        ``SELECT m.key FROM memories m WHERE ...`` gives them."""
        where, params = where_clause(flt, None)  # without the conditions on the time
        entry = (where, *params)
        version = log_sequence(self._db)
        if version is not None:
            with self._lock:
                self._at(version)
                found = self._entries.get(entry)
                if found is not None:
                    self._entries.move_to_end(entry)
                    self.hits += 1
                    return _at(flt, now, *found)
                self.misses += 1
        rows = self._read(where, params)
        if version is not None and len(rows[0]) <= self._max_keys // 8:
            with self._lock:
                if self._version == version and entry not in self._entries:
                    self._entries[entry] = rows
                    self._held += len(rows[0])
                    while self._held > self._max_keys:
                        _, (dropped, _, _) = self._entries.popitem(last=False)
                        self._held -= len(dropped)
        return _at(flt, now, *rows)

    def _read(self, where: str, params: list[object]) -> tuple[Keys, Times, Times]:
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT m.key, m.expires_at, m.valid_to FROM memories m WHERE {where}", params
            ).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        # NULL (no expiry, still valid) becomes NaN, which no comparison passes
        expires = np.array([r[1] for r in rows], dtype=np.float64).reshape(-1)
        valid_to = np.array([r[2] for r in rows], dtype=np.float64).reshape(-1)
        return keys, expires, valid_to


def _at(flt: Filter, now: float, keys: Keys, expires: Times, valid_to: Times) -> Keys:
    """``keys`` without those the time conditions of ``filters.where_clause`` leave out at
    ``now``: expired ones (unless ``include_expired``) and superseded ones (unless
    ``include_closed`` or ``valid_at``)."""
    keep = np.ones(len(keys), dtype=bool)
    if not flt.include_expired:
        keep &= np.isnan(expires) | (expires > now)
    if not flt.include_closed and flt.valid_at is None:
        keep &= np.isnan(valid_to) | (valid_to > now)
    return keys if bool(keep.all()) else keys[keep]
