"""Retrieval metrics on small cases whose answers were worked out by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memoryspace.bench.locomo import turns_needed
from memoryspace.bench.metrics import (
    all_found_at_k,
    budget_prefix,
    evidence_recall_at_k,
    first_occurrences,
    mean_by_category,
    percentile,
    recall_at_budget,
    reciprocal_rank,
)
from memoryspace.errors import InvalidInput

RANKED = ["a", "b", "c", "d"]
TOKENS = {"a": 3, "b": 5, "c": 2, "d": 1}


def test_recall_at_k_counts_the_share_of_evidence_in_the_top_k() -> None:
    # evidence {b, d, x}: the top 2 hold b (1 of 3), the top 4 hold b and d (2 of 3)
    assert evidence_recall_at_k(RANKED, {"b", "d", "x"}, 2) == pytest.approx(1 / 3)
    assert evidence_recall_at_k(RANKED, {"b", "d", "x"}, 4) == pytest.approx(2 / 3)
    assert evidence_recall_at_k(RANKED, ["a"], 1) == 1.0
    assert evidence_recall_at_k(RANKED, ["d"], 3) == 0.0
    assert evidence_recall_at_k(RANKED, ["d"], 100) == 1.0  # k past the list is the whole list


def test_recall_at_k_counts_repeated_evidence_once() -> None:
    assert evidence_recall_at_k(["a", "a", "b"], ["a", "a", "z"], 3) == 0.5


def test_recall_needs_evidence_and_a_positive_k() -> None:
    with pytest.raises(InvalidInput):
        evidence_recall_at_k(RANKED, [], 5)
    with pytest.raises(InvalidInput):
        evidence_recall_at_k(RANKED, ["a"], 0)
    with pytest.raises(InvalidInput):
        reciprocal_rank(RANKED, set())


def test_all_found_at_k() -> None:
    assert all_found_at_k(RANKED, ["a", "c"], 3)
    assert not all_found_at_k(RANKED, ["a", "d"], 3)


def test_budget_prefix_stops_at_the_first_turn_that_does_not_fit() -> None:
    # a(3) + b(5) = 8 fits in 8; c would make 10, so taking stops, though d(1) would still fit
    assert budget_prefix(RANKED, TOKENS, 8) == ["a", "b"]
    assert budget_prefix(RANKED, TOKENS, 11) == ["a", "b", "c", "d"]
    assert budget_prefix(RANKED, TOKENS, 2) == []


def test_recall_at_budget() -> None:
    assert recall_at_budget(RANKED, TOKENS, {"b", "d"}, 8) == 0.5
    assert recall_at_budget(RANKED, TOKENS, {"c"}, 8) == 0.0
    assert recall_at_budget(RANKED, TOKENS, {"c"}, 10) == 1.0


@given(
    st.lists(st.integers(min_value=1, max_value=50), min_size=0, max_size=30),
    st.integers(min_value=0, max_value=400),
)
def test_a_budget_prefix_fits_and_is_as_long_as_possible(costs: list[int], budget: int) -> None:
    ranked = [f"t{n}" for n in range(len(costs))]
    tokens = dict(zip(ranked, costs, strict=True))
    taken = budget_prefix(ranked, tokens, budget)
    assert taken == ranked[: len(taken)]
    assert sum(tokens[r] for r in taken) <= budget
    if len(taken) < len(ranked):
        assert sum(tokens[r] for r in taken) + tokens[ranked[len(taken)]] > budget
    # enough turns for any ranking: the prefix never runs past turns_needed
    assert len(taken) <= turns_needed(costs, budget)


def test_turns_needed() -> None:
    # sorted 1, 3, 5: one turn (1) fits in 3, two (4) do not
    assert turns_needed([5, 1, 3], 3) == 2
    assert turns_needed([1, 1], 10) == 2  # everything fits
    assert turns_needed([4], 3) == 1


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(RANKED, {"c", "d"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(RANKED, {"a"}) == 1.0
    assert reciprocal_rank(RANKED, {"z"}) == 0.0


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    # 20 values 1..20: position 19 * 0.95 = 18.05, between 19 and 20
    assert percentile(list(range(1, 21)), 95) == pytest.approx(19.05)
    assert percentile([7.0], 95) == 7.0
    assert percentile([1, 9], 0) == 1 and percentile([1, 9], 100) == 9
    with pytest.raises(InvalidInput):
        percentile([], 50)
    with pytest.raises(InvalidInput):
        percentile([1], 101)


def test_mean_by_category_and_the_pooled_1_to_4() -> None:
    scores = [(1, 1.0), (1, 0.0), (2, 1.0), (5, 1.0), (4, 0.5)]
    means = mean_by_category(scores)
    assert means == {
        "1": 0.5,
        "2": 1.0,
        "3": None,  # no question of that category
        "4": 0.5,
        "5": 1.0,
        "all_1_4": pytest.approx((1.0 + 0.0 + 1.0 + 0.5) / 4),  # per question, 5 left out
    }


def test_first_occurrences_keeps_the_first_rank_of_each_id() -> None:
    assert first_occurrences(["s2", "s1", "s2", "s3", "s1"]) == ["s2", "s1", "s3"]
