"""Automatic collection: a space looks at a trigger as it writes and collects when it fires.

Like CPython's collector, which counts allocations, a space opened with
``Settings(gc_trigger=...)`` looks at its trigger once every ``gc_check_every`` added records
(a look counts the live records: one SQL count) and, when the trigger fires, collects with
``gc_collector`` in the writing thread. The pause lands on the write that crossed the line and is
measured in the ``GCEvent``. Nothing runs in the background and nothing runs while a space only
reads, so a periodic trigger fires on the first look after its period.

A failed automatic collection does not fail the write that started it (the write is committed
already): it is logged, counted in ``stats()["auto_gc"]["failures"]``, and the store is as the
collection's own transaction left it. The bandit's reward for a cycle is the hot tier's hit rate
since the previous collection minus its cost per millisecond of pause; without a hot tier the
hit rate is 0, so the bandit then prefers the trigger with the cheapest pauses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from memoryspace.errors import InvalidInput
from memoryspace.gc.events import GCEvent
from memoryspace.gc.triggers import (
    EpsilonGreedyBandit,
    FragmentationTrigger,
    GrowthTrigger,
    HeapStats,
    PeriodicTrigger,
    Trigger,
)
from memoryspace.settings import Settings

log = logging.getLogger("memoryspace")

TRIGGERS = ("periodic", "growth", "fragmentation", "bandit")


def make_trigger(settings: Settings) -> Trigger:
    """The trigger ``settings.gc_trigger`` names, with the settings' parameters; the bandit
    chooses among the other three.

    Raises:
        InvalidInput: an unknown trigger name or a bad parameter.
    """
    name = settings.gc_trigger
    arms: dict[str, Callable[[], Trigger]] = {
        "periodic": lambda: PeriodicTrigger(settings.gc_every_seconds),
        "growth": lambda: GrowthTrigger(settings.gc_growth_factor),
        "fragmentation": lambda: FragmentationTrigger(settings.gc_fragmentation),
    }
    if name == "bandit":
        return EpsilonGreedyBandit([make() for make in arms.values()])
    if name not in arms:
        raise InvalidInput(f"unknown gc_trigger {name!r}; use one of: {', '.join(TRIGGERS)}")
    return arms[name]()


class AutoCollector:
    """Counts added records and, every ``check_every``, asks ``trigger`` whether to run
    ``collect``.

    ``live`` counts the live records, ``fragmentation`` is the worst context-window
    fragmentation (0..1) and ``lookups`` gives the cumulative ``(hits, lookups)`` the hit rate
    is computed from.

    Raises:
        InvalidInput: ``check_every`` below 1.
    """

    def __init__(
        self,
        trigger: Trigger,
        *,
        collect: Callable[[], GCEvent],
        live: Callable[[], int],
        fragmentation: Callable[[], float],
        lookups: Callable[[], tuple[int, int]],
        clock: Callable[[], float],
        check_every: int = 64,
    ) -> None:
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
            raise InvalidInput(f"gc_check_every must be an integer >= 1, got {check_every!r}")
        self.trigger = trigger
        self.check_every = check_every
        self._collect = collect
        self._live = live
        self._fragmentation = fragmentation
        self._lookups = lookups
        self._clock = clock
        self._pending = 0
        self._since = lookups()  # (hits, lookups) at the last collection
        self._pending_lock = threading.Lock()
        self._busy = threading.Lock()
        self.counters = {"checks": 0, "runs": 0, "failures": 0}
        self.last_event: GCEvent | None = None

    def wrote(self, records: int) -> GCEvent | None:
        """Note ``records`` added; look at the trigger when enough were, and return the event
        of the collection that ran (``None`` if none did). Another thread's look in progress
        makes this one skip rather than wait."""
        with self._pending_lock:
            self._pending += records
            if self._pending < self.check_every:
                return None
            self._pending = 0
        if not self._busy.acquire(blocking=False):
            return None
        try:
            return self._look()
        except Exception:
            self.counters["failures"] += 1
            log.exception("automatic garbage collection failed; the write itself is stored")
            return None
        finally:
            self._busy.release()

    def _heap(self) -> HeapStats:
        hits, lookups = self._lookups()
        since_hits, since_lookups = self._since
        asked = lookups - since_lookups
        return HeapStats(
            live=self._live(),
            fragmentation=self._fragmentation(),
            hit_rate=(hits - since_hits) / asked if asked > 0 else 0.0,
        )

    def _look(self) -> GCEvent | None:
        now = self._clock()
        before = self._heap()
        self.counters["checks"] += 1
        if not self.trigger.should_collect(now, before):
            return None
        event = self._collect()
        self.counters["runs"] += 1
        self.last_event = event
        self.trigger.collected(now, self._heap())
        if isinstance(self.trigger, EpsilonGreedyBandit):
            self.trigger.feedback(self.trigger.reward(before.hit_rate, event.pause_duration))
        self._since = self._lookups()
        return event

    def stats(self) -> dict[str, Any]:
        """The trigger's name, the counters, and the bandit's preferred arm."""
        out: dict[str, Any] = {"trigger": self.trigger.name, **self.counters}
        if isinstance(self.trigger, EpsilonGreedyBandit):
            out["preferred"] = self.trigger.preferred.name
        return out
