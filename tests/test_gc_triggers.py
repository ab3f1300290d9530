"""Trigger policies fire when they should; the bandit learns which one pays off."""

from __future__ import annotations

import pytest

from memoryspace import InvalidInput
from memoryspace.gc import (
    EpsilonGreedyBandit,
    FragmentationTrigger,
    GrowthTrigger,
    HeapStats,
    PeriodicTrigger,
)
from store_contract import FakeClock


def test_periodic_fires_every_period_after_the_last_collection() -> None:
    clock = FakeClock(start=0.0)
    trigger = PeriodicTrigger(60)
    stats = HeapStats(live=10)
    assert not trigger.should_collect(clock(), stats)  # the first look starts the period
    clock.advance(59)
    assert not trigger.should_collect(clock(), stats)
    clock.advance(1)
    assert trigger.should_collect(clock(), stats)
    trigger.collected(clock(), stats)
    assert not trigger.should_collect(clock(), stats)
    clock.advance(60)
    assert trigger.should_collect(clock(), stats)


def test_fragmentation_fires_at_the_threshold_from_stats_or_a_source() -> None:
    trigger = FragmentationTrigger(0.3)
    assert not trigger.should_collect(0, HeapStats(live=1, fragmentation=0.29))
    assert trigger.should_collect(0, HeapStats(live=1, fragmentation=0.3))
    level = [0.1]
    sourced = FragmentationTrigger(0.5, source=lambda: level[0])
    assert not sourced.should_collect(0, HeapStats(live=1, fragmentation=0.9))
    level[0] = 0.6
    assert sourced.should_collect(0, HeapStats(live=1))
    with pytest.raises(InvalidInput):
        FragmentationTrigger(1.5)


def test_growth_fires_when_the_live_count_grew_by_the_factor() -> None:
    trigger = GrowthTrigger(2.0)
    assert not trigger.should_collect(0, HeapStats(live=100))  # baseline
    assert not trigger.should_collect(0, HeapStats(live=199))
    assert trigger.should_collect(0, HeapStats(live=200))
    trigger.collected(0, HeapStats(live=150))
    assert not trigger.should_collect(0, HeapStats(live=299))
    assert trigger.should_collect(0, HeapStats(live=300))
    with pytest.raises(InvalidInput):
        GrowthTrigger(1.0)


def test_the_bandit_prefers_the_arm_with_the_best_reward() -> None:
    arms = [PeriodicTrigger(60), GrowthTrigger(2.0), FragmentationTrigger(0.3)]
    bandit = EpsilonGreedyBandit(arms, epsilon=0.1, seed=7, pause_weight=0.01)
    # The growth arm gives the best hit rate for the least pause.
    outcomes = {0: (0.50, 0.020), 1: (0.80, 0.005), 2: (0.60, 0.050)}
    chosen = []
    for _ in range(300):
        arm = bandit.select()
        chosen.append(arm)
        hit_rate, pause = outcomes[arm]
        bandit.feedback(bandit.reward(hit_rate, pause))
    assert bandit.preferred is arms[1]
    assert chosen[-100:].count(1) > 80
    assert bandit.reward(0.8, 0.005) == pytest.approx(0.75)
    # Seeded: the same choices every time.
    again = EpsilonGreedyBandit(arms, epsilon=0.1, seed=7, pause_weight=0.01)
    replay = []
    for _ in range(300):
        arm = again.select()
        replay.append(arm)
        again.feedback(again.reward(*outcomes[arm]))
    assert replay == chosen


def test_the_bandit_asks_its_current_arm_and_resets_all_after_a_collection() -> None:
    periodic, growth = PeriodicTrigger(10, start=0.0), GrowthTrigger(2.0)
    bandit = EpsilonGreedyBandit([periodic, growth], epsilon=0.0, seed=1)
    assert bandit.select() == 0  # untried arms first
    assert bandit.should_collect(10, HeapStats(live=5))
    bandit.collected(10, HeapStats(live=5))
    bandit.feedback(1.0)
    assert periodic.last == 10 and growth.baseline == 5
    assert bandit.select() == 1
    with pytest.raises(InvalidInput):
        EpsilonGreedyBandit([])
    with pytest.raises(InvalidInput):
        EpsilonGreedyBandit([periodic], epsilon=2)
