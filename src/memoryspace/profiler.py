"""``MemoryProfiler``: a record of every allocation, retrieval, page fault, eviction and GC.

Each event is one JSON line ``{"ts": wall time, "event": type, "duration": seconds, ...fields}``
(and, when asked, one CSV row ``ts,event,duration,fields`` with the fields as JSON). Durations
come from a monotonic timer (``clock``, ``time.perf_counter`` by default); ``ts`` from ``wall``.
``summary()`` counts events and sums their durations; ``summarize_file`` does the same for a
profile written earlier (``memoryspace stats --profile FILE``).

Profiling is off unless a profiler is given to ``MemorySpace``: the facade then pays one
``is not None`` check per operation.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from memoryspace.errors import Closed, InvalidInput

ALLOCATION = "allocation"
RETRIEVAL = "retrieval"
PAGE_FAULT = "page_fault"
EVICTION = "eviction"
GC = "gc"
READ = "read"  # one chunk read by ``MemorySpace.read``
EVENT_TYPES = (ALLOCATION, RETRIEVAL, PAGE_FAULT, EVICTION, GC, READ)
CSV_COLUMNS = ("ts", "event", "duration", "fields")


class MemoryProfiler:
    """Writes profile events as JSON lines (to ``path``) and CSV (to ``csv_path``) and keeps
    running totals for ``summary()``; with neither path it only keeps the totals.

    Use it as a context manager, or call ``close()``, to flush the files.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        csv_path: str | Path | None = None,
        clock: Callable[[], float] = time.perf_counter,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._totals: dict[str, list[float]] = {}
        self._closed = False
        self._jsonl: IO[str] | None = None
        self._csv_file: IO[str] | None = None
        self._csv: Any = None
        self.path = None if path is None else Path(path)
        self.csv_path = None if csv_path is None else Path(csv_path)
        if self.path is not None:
            self._jsonl = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        if self.csv_path is not None:
            new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
            self._csv_file = open(self.csv_path, "a", encoding="utf-8", newline="")  # noqa: SIM115
            self._csv = csv.writer(self._csv_file)
            if new:
                self._csv.writerow(CSV_COLUMNS)

    def record(self, event_type: str, duration: float | None = None, **fields: Any) -> None:
        """Record one event; ``fields`` must be JSON-serialisable.

        Raises:
            InvalidInput: an empty event type.
            Closed: the profiler was closed.
        """
        if not event_type:
            raise InvalidInput("event_type must be a non-empty string such as 'retrieval'")
        ts = self._wall()
        with self._lock:
            if self._closed:
                raise Closed("this profiler is closed; create a new MemoryProfiler")
            _add(self._totals, event_type, duration)
            if self._jsonl is not None:
                line = {"ts": ts, "event": event_type, "duration": duration, **fields}
                self._jsonl.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            if self._csv is not None:
                extra = json.dumps(fields, ensure_ascii=False, default=str, sort_keys=True)
                self._csv.writerow((ts, event_type, "" if duration is None else duration, extra))

    def summary(self) -> dict[str, dict[str, float]]:
        """Per event type: ``count``, ``total_duration``, ``mean_duration``, ``max_duration``
        (seconds, over the events that had a duration)."""
        with self._lock:
            return _summary(self._totals)

    @staticmethod
    def summarize_file(path: str | Path) -> dict[str, dict[str, float]]:
        """``summary()`` of a JSON-lines profile written earlier.

        Raises:
            InvalidInput: the file cannot be read or a line is not a profile event.
        """
        totals: dict[str, list[float]] = {}
        try:
            lines: Iterable[str] = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read profile {path}: {exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                _add(totals, str(event["event"]), event.get("duration"))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InvalidInput(f"{path}:{number} is not a profile event") from None
        return _summary(totals)

    def flush(self) -> None:
        with self._lock:
            for handle in (self._jsonl, self._csv_file):
                if handle is not None:
                    handle.flush()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for handle in (self._jsonl, self._csv_file):
                if handle is not None:
                    handle.close()

    def __enter__(self) -> MemoryProfiler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _add(totals: dict[str, list[float]], event: str, duration: float | None) -> None:
    # [count, timed count, total duration, max duration]
    entry = totals.setdefault(event, [0, 0, 0.0, 0.0])
    entry[0] += 1
    if duration is not None:
        entry[1] += 1
        entry[2] += duration
        entry[3] = max(entry[3], duration)


def _summary(totals: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        event: {
            "count": int(count),
            "total_duration": total,
            "mean_duration": total / timed if timed else 0.0,
            "max_duration": largest,
        }
        for event, (count, timed, total, largest) in sorted(totals.items())
    }
