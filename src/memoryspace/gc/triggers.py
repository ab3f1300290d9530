"""When to collect: trigger policies, and a bandit that learns which trigger pays off.

A trigger answers ``should_collect(now, stats)``; after a collection the caller tells it with
``collected(now, stats)`` so it can reset its baseline. Times come from the caller's clock, so
tests advance a fake clock instead of sleeping.

- ``PeriodicTrigger``: every ``every_seconds``.
- ``FragmentationTrigger``: when the context heap's fragmentation (wasted tokens / budget)
  reaches ``threshold``.
- ``GrowthTrigger``: when the live record count grew by ``factor`` since the last collection.
- ``EpsilonGreedyBandit``: picks one of its triggers per collection cycle, mostly the one with
  the best mean reward (``hit_rate - pause_weight * pause_ms``), exploring with ``epsilon``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memoryspace.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class HeapStats:
    """What triggers look at: live records, fragmentation (0..1) and the retrieval hit rate."""

    live: int
    fragmentation: float = 0.0
    hit_rate: float = 0.0


class Trigger:
    """The base of every trigger policy: ``should_collect`` and a ``collected`` notification."""

    name = "trigger"

    def should_collect(self, now: float, stats: HeapStats) -> bool:
        raise NotImplementedError

    def collected(self, now: float, stats: HeapStats) -> None:
        """A collection ran at ``now`` (whoever triggered it)."""


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidInput(f"{name} must be a number > 0, got {value!r}")


class PeriodicTrigger(Trigger):
    """Fires once ``every_seconds`` have passed since the last collection (or the first look).

    Raises:
        InvalidInput: ``every_seconds`` is not positive.
    """

    name = "periodic"

    def __init__(self, every_seconds: float, *, start: float | None = None) -> None:
        _positive("every_seconds", every_seconds)
        self.every_seconds = every_seconds
        self.last = start

    def should_collect(self, now: float, stats: HeapStats) -> bool:
        if self.last is None:
            self.last = now
        return now - self.last >= self.every_seconds

    def collected(self, now: float, stats: HeapStats) -> None:
        self.last = now


class FragmentationTrigger(Trigger):
    """Fires when fragmentation reaches ``threshold``; read from ``source`` when given
    (e.g. ``window.fragmentation``), else from the stats.

    Raises:
        InvalidInput: ``threshold`` outside (0, 1].
    """

    name = "fragmentation"

    def __init__(self, threshold: float, source: Callable[[], float] | None = None) -> None:
        _positive("threshold", threshold)
        if threshold > 1:
            raise InvalidInput(f"threshold is a share of the budget (0..1], got {threshold!r}")
        self.threshold = threshold
        self.source = source

    def should_collect(self, now: float, stats: HeapStats) -> bool:
        value = self.source() if self.source is not None else stats.fragmentation
        return value >= self.threshold


class GrowthTrigger(Trigger):
    """Fires when the live count reached ``factor`` times the count after the last collection
    (the first look sets the baseline), like a heap that doubles before the next GC.

    Raises:
        InvalidInput: ``factor`` is not above 1.
    """

    name = "growth"

    def __init__(self, factor: float = 2.0) -> None:
        _positive("factor", factor)
        if factor <= 1:
            raise InvalidInput(f"factor must be above 1 (growth since the last GC), got {factor}")
        self.factor = factor
        self.baseline: int | None = None

    def should_collect(self, now: float, stats: HeapStats) -> bool:
        if self.baseline is None:
            self.baseline = stats.live
        return stats.live > self.baseline and stats.live >= self.factor * max(self.baseline, 1)

    def collected(self, now: float, stats: HeapStats) -> None:
        self.baseline = stats.live


class EpsilonGreedyBandit(Trigger):
    """Chooses among ``triggers`` by reward: the current arm decides until a collection runs,
    then ``feedback(reward)`` credits it and the next arm is chosen.

    With probability ``epsilon`` the arm is random (exploration), else the best mean reward;
    untried arms are tried first. ``seed`` makes the choices reproducible.

    Raises:
        InvalidInput: no triggers, or ``epsilon`` outside 0..1.
    """

    name = "bandit"

    def __init__(
        self,
        triggers: Sequence[Trigger],
        *,
        epsilon: float = 0.1,
        seed: int | None = None,
        pause_weight: float = 0.01,
    ) -> None:
        if not triggers:
            raise InvalidInput("the bandit needs at least one trigger to choose from")
        if isinstance(epsilon, bool) or not 0 <= epsilon <= 1:
            raise InvalidInput(f"epsilon must be within 0..1, got {epsilon!r}")
        self.triggers = list(triggers)
        self.epsilon = epsilon
        self.pause_weight = pause_weight
        self.pulls = [0] * len(self.triggers)
        self.values = [0.0] * len(self.triggers)
        self.current: int | None = None
        self._rng = random.Random(seed)

    def reward(self, hit_rate: float, pause_duration: float) -> float:
        """Hit rate minus ``pause_weight`` per millisecond of GC pause."""
        return hit_rate - self.pause_weight * pause_duration * 1000.0

    def select(self) -> int:
        """The arm for this cycle (kept until ``feedback``)."""
        if self.current is None:
            untried = [i for i, n in enumerate(self.pulls) if n == 0]
            if untried:
                self.current = untried[0]
            elif self._rng.random() < self.epsilon:
                self.current = self._rng.randrange(len(self.triggers))
            else:
                best = max(self.values)
                self.current = self.values.index(best)
        return self.current

    def should_collect(self, now: float, stats: HeapStats) -> bool:
        return self.triggers[self.select()].should_collect(now, stats)

    def collected(self, now: float, stats: HeapStats) -> None:
        for trigger in self.triggers:
            trigger.collected(now, stats)

    def feedback(self, reward: float) -> None:
        """Credit the current arm with ``reward`` and choose anew next time."""
        arm = self.select()
        self.pulls[arm] += 1
        self.values[arm] += (reward - self.values[arm]) / self.pulls[arm]
        self.current = None

    @property
    def preferred(self) -> Trigger:
        """The arm with the best mean reward so far."""
        return self.triggers[self.values.index(max(self.values))]
