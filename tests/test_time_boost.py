"""Time in queries and memories: a memory from the time a query names ranks higher."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from memoryspace import MemorySpace, Settings
from memoryspace.retrieval.when import CalendarTime, asked_time, matches, memory_dates


def _at(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, 12, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What did Joanna achieve in January 2022?", CalendarTime(2022, 1)),
        ("What movie did she watch on 1 May, 2022?", CalendarTime(2022, 5, 1)),
        ("What did he buy on May 3rd 2021?", CalendarTime(2021, 5, 3)),
        ("When did Melanie go camping in June?", CalendarTime(None, 6)),
        ("What happened in 2019?", CalendarTime(2019)),
        ("Who led the raid in April 1862?", CalendarTime(1862, 4)),
        ("What changed on 2023-07-14?", CalendarTime(2023, 7, 14)),
        # the verb, a lower-case word, a number that is no year, no time at all
        ("May I ask what she likes?", None),
        ("Did they march in the parade?", None),
        ("Did it cost 2022.50 dollars?", None),
        ("When did Maria meet Jean?", None),
    ],
)
def test_the_time_a_query_names(query: str, expected: CalendarTime | None) -> None:
    assert asked_time(query) == expected


def test_a_memorys_dates_are_its_day_and_its_expressions_resolved_against_it() -> None:
    written = _at(2022, 1, 22)  # a Saturday
    dates = memory_dates(
        "I finished it yesterday! Last Saturday was hard, two weeks ago too, and in May I move.",
        written,
    )
    assert dates == [
        CalendarTime(2022, 1, 22),  # the day it was written
        CalendarTime(2022, 5),  # "in May": May of the year it was written
        CalendarTime(2022, 1, 21),  # yesterday
        CalendarTime(2022, 1, 15),  # last Saturday: the one before the writing day
        CalendarTime(2022, 1),  # two weeks ago: a month, weeks are too loose for a day
    ]
    assert memory_dates("Last month and last year.", written) == [
        CalendarTime(2022, 1, 22),
        CalendarTime(2021, 12),
        CalendarTime(2021),
    ]
    # a year in the text is left to BM25 (it matches the words already)
    assert memory_dates("We met in May 2019.", written) == [CalendarTime(2022, 1, 22)]


def test_a_memorys_dates_are_parsed_once_and_then_read_from_the_cache() -> None:
    from memoryspace.retrieval import when

    text, written = "We hiked there two weeks ago and again yesterday.", _at(2023, 3, 9)
    before = when._cached_dates.cache_info()
    first = memory_dates(text, written)
    second = memory_dates(text, written)
    after = when._cached_dates.cache_info()
    assert first == second == list(when._parse_dates(text, written))
    assert after.hits - before.hits >= 1  # the second read parsed nothing
    first.append(CalendarTime(1999))  # a caller's list is its own: the cache is untouched
    assert memory_dates(text, written) == second
    # another timestamp is another entry: "yesterday" is another day
    assert memory_dates(text, _at(2023, 3, 10)) != second


def test_a_long_text_is_parsed_each_time_and_never_cached() -> None:
    from memoryspace.retrieval import when

    text = "I moved house last month. " + "x" * when.CACHED_CHARS
    before = when._cached_dates.cache_info()
    dates = memory_dates(text, _at(2023, 3, 9))
    assert dates == [CalendarTime(2023, 3, 9), CalendarTime(2023, 2)]
    after = when._cached_dates.cache_info()
    assert (after.hits, after.misses, after.currsize) == (
        before.hits,
        before.misses,
        before.currsize,
    )


def test_a_constraint_is_met_only_by_a_date_at_least_as_precise() -> None:
    written = _at(2022, 1, 22)
    assert matches(CalendarTime(2022, 1), "I did it yesterday.", written)
    assert matches(CalendarTime(2022, 1, 21), "I did it yesterday.", written)
    assert not matches(CalendarTime(2022, 1, 20), "I did it yesterday.", written)
    assert matches(CalendarTime(None, 1), "Hello.", written)  # January of any year
    assert not matches(CalendarTime(2022, 2), "Hello.", written)
    assert matches(CalendarTime(2021), "Hello, it was great last year.", written)
    assert not matches(CalendarTime(2021, 6), "Hello, it was great last year.", written)


def test_search_favours_the_memory_from_the_named_time(tmp_path: Path) -> None:
    memories = [
        {"content": "I finish what I start: I will finish the plan.", "timestamp": _at(2022, 3, 5)},
        {"content": "I finished my marathon training plan today.", "timestamp": _at(2022, 1, 22)},
        {"content": "I finished my novel draft yesterday.", "timestamp": _at(2022, 6, 2)},
    ]
    query = "What did I finish in January 2022?"
    with MemorySpace.open(tmp_path / "time.db", embedder="hashing") as ms:
        ms.add_many(memories)
        hits = ms.search(query, k=3, min_score=0)
    assert hits[0].memory.content == memories[1]["content"]
    assert hits[0].parts.time_boost == Settings().time_boost > 0
    assert [h.parts.time_boost for h in hits[1:]] == [0.0, 0.0]
    with MemorySpace.open(
        tmp_path / "off.db", embedder="hashing", settings=Settings(time_boost=0.0)
    ) as ms:
        ms.add_many(memories)
        without = ms.search(query, k=3, min_score=0)
    assert all(h.parts.time_boost == 0.0 for h in without)
    assert without[0].memory.content == memories[0]["content"]  # more of the query's words


def test_a_when_question_favours_memories_that_state_a_time(tmp_path: Path) -> None:
    day = _at(2023, 5, 8)
    memories = [
        {"content": "Caroline: the support group was really moving", "timestamp": day},
        {"content": "Caroline: I went to the support group yesterday", "timestamp": day},
    ]
    with MemorySpace.open(tmp_path / "when.db", embedder="hashing") as ms:
        ms.add_many(memories)
        hits = ms.search("When did Caroline go to the support group?", k=2, min_score=0)
        asked = ms.search("Did Caroline go to the support group?", k=2, min_score=0)
    assert hits[0].memory.content == memories[1]["content"]
    assert hits[0].parts.time_boost == Settings().when_boost > 0
    assert all(h.parts.time_boost == 0.0 for h in asked)
