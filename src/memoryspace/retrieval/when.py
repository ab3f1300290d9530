"""Time in queries and memories: "in May 2023", "on 1 May, 2022", "yesterday", "last Saturday".

A question that names a time ("What did Joanna achieve in January 2022?") is answered by a
memory from that time, whose words rarely say so: the memory says "I finally finished it
yesterday" and was written on 22 January 2022. So the query's time (``asked_time``) is read
as a calendar constraint (a year, a month of a year, a day, or a month of any year: "in
June"), and each candidate's dates (``memory_dates``) are its own timestamp plus the time
expressions in its text that need it ("yesterday" is the day before it, "last month" the month
before, "in May" May of its year). A memory with a date that meets the
constraint gains ``time_boost`` (see ``memoryspace.retrieval.hybrid``).

The rules are English, offline and deliberately few (no parser dependency; they run on the
candidates of each search, so they must be cheap). What they do not read: ranges ("between
May and July"), ordinals of events ("two weeks before the wedding"), times of day, and
relative expressions in the query ("last year" asked today), since a question's "now" is
rarely the moment the memories were written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from memoryspace.models import Memory

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>1[5-9]\d\d|20\d\d)"
# "1 May, 2022", "May 1, 2022", "May 2022", "May", "2022", "2022-05-01"
_ABSOLUTE = (
    re.compile(rf"\b(?P<iso>{_YEAR}-(?P<imonth>[01]\d)-(?P<iday>[0-3]\d))\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?\b(?!:)", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}(?:,?\s+(?:of\s+)?{_YEAR})?\b", re.IGNORECASE),
    re.compile(rf"(?<![\d.,$£€])\b{_YEAR}\b(?![\d.,]\d)"),
)
_RELATIVE = re.compile(
    r"\b(?:(?P<yesterday>yesterday|last night)"
    r"|(?P<today>today|tonight|this (?:morning|afternoon|evening))"
    r"|(?P<count>a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\s+"
    r"(?P<unit>day|week|month|year)s?\s+ago"
    r"|(?P<last>last|this|next)\s+(?P<what>week|weekend|month|year|" + "|".join(WEEKDAYS) + r"))\b",
    re.IGNORECASE,
)
# a lone "May" is mostly the verb; it is a month only beside a day or a year, or after these
_MONTH_BEFORE = re.compile(r"\b(?:in|of|since|until|by|early|late|mid|last|next)\s+$", re.I)


# every expression below contains one of these words
_HINT = re.compile(
    r"\b(?:"
    + "|".join(sorted([*MONTHS, *WEEKDAYS], key=len, reverse=True))
    + r"|yesterday|last|today|tonight|this|next|ago)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class CalendarTime:
    """A calendar constraint or a date at some precision: ``year``/``month``/``day`` are set
    from the coarsest down (``month`` without ``year`` is a month of any year)."""

    year: int | None = None
    month: int | None = None
    day: int | None = None

    def met_by(self, other: CalendarTime) -> bool:
        """Whether the date ``other`` lies within this constraint and is at least as precise."""
        for mine, theirs in ((self.year, other.year), (self.month, other.month)):
            if mine is not None and mine != theirs:
                return False
        return self.day is None or (self.day == other.day and other.month is not None)


def _of(day: date, precision: str) -> CalendarTime:
    if precision == "year":
        return CalendarTime(day.year)
    if precision == "month":
        return CalendarTime(day.year, day.month)
    return CalendarTime(day.year, day.month, day.day)


def _absolute(text: str) -> list[CalendarTime]:
    """The absolute dates in ``text``; where patterns overlap, the earlier (more precise) wins."""
    found: list[CalendarTime] = []
    taken: list[tuple[int, int]] = []
    for pattern in _ABSOLUTE:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            time = _read(match, text)
            if time is not None:
                taken.append((start, end))
                found.append(time)
    return found


def _read(match: re.Match[str], text: str) -> CalendarTime | None:
    parts = match.groupdict()
    if parts.get("iso"):
        year, month, day = int(parts["year"]), int(parts["imonth"]), int(parts["iday"])
        return CalendarTime(year, month, day) if 1 <= month <= 12 and 1 <= day <= 31 else None
    named = parts.get("month")
    if named is not None and not (parts.get("day") or parts.get("year")):
        # a lone month name: only capitalised, and "May" only after "in", "of", "since", ...
        if not named[0].isupper():
            return None
        if named.lower() == "may" and not _MONTH_BEFORE.search(text[: match.start()]):
            return None
    day_of_month = int(parts["day"]) if parts.get("day") else None
    if day_of_month is not None and not 1 <= day_of_month <= 31:
        return None
    return CalendarTime(
        int(parts["year"]) if parts.get("year") else None,
        MONTHS[named.lower()] if named else None,
        day_of_month,
    )


def asked_time(query: str) -> CalendarTime | None:
    """The calendar constraint a query names ("in May 2023", "on 1 May, 2022", "in June",
    "in 2022"), the most precise if it names several; ``None`` when it names none."""
    times = _absolute(query)
    if not times:
        return None
    return max(times, key=lambda t: (t.day is not None, t.month is not None, t.year is not None))


def memory_dates(text: str, timestamp: float) -> list[CalendarTime]:
    """The dates a memory written at ``timestamp`` (Unix seconds) is about: that day, plus the
    time expressions of ``text`` that need it ("yesterday", "last month", "in May"), resolved
    against it. Dates with a year in the text are left out: BM25 already matches their words,
    and boosting them again ranked distractors that merely mention a year (HotpotQA).

    Parsed once per distinct (text, timestamp) and cached (``DATES_CACHED`` of them, texts of
    up to ``CACHED_CHARS`` characters: a few tens of MB at most), so a memory that is a
    candidate of many searches is read once, not per query."""
    return list(_memory_dates(text, timestamp))


DATES_CACHED = 16_384
"""How many memories' dates ``memory_dates`` keeps."""
CACHED_CHARS = 2_000
"""Longer texts (rare in chat, up to ``Settings.max_content_chars``) are parsed each time, so
the cache never holds more than ``DATES_CACHED * CACHED_CHARS`` characters."""


def _memory_dates(text: str, timestamp: float) -> tuple[CalendarTime, ...]:
    if len(text) <= CACHED_CHARS:
        return _cached_dates(text, timestamp)
    return _parse_dates(text, timestamp)


def _parse_dates(text: str, timestamp: float) -> tuple[CalendarTime, ...]:
    written = datetime.fromtimestamp(timestamp, UTC).date()
    dates = [_of(written, "day")]
    if not _HINT.search(text):  # most texts name no time: one cheap test rules them out
        return tuple(dates)
    for time in _absolute(text):
        if time.year is None and time.month is not None:
            dates.append(CalendarTime(written.year, time.month, time.day))
    for match in _RELATIVE.finditer(text):
        dates.append(_resolve(match, written))
    return tuple(dates)


_cached_dates = lru_cache(maxsize=DATES_CACHED)(_parse_dates)


def _resolve(match: re.Match[str], written: date) -> CalendarTime:
    parts = match.groupdict()
    if parts["yesterday"]:
        return _of(written - timedelta(days=1), "day")
    if parts["today"]:
        return _of(written, "day")
    if parts["count"]:
        raw = parts["count"].lower()
        count = int(raw) if raw.isdigit() else _NUMBERS[raw]
        unit = parts["unit"].lower()
        if unit == "day":
            return _of(written - timedelta(days=count), "day")
        if unit == "week":
            return _of(written - timedelta(weeks=count), "month")
        if unit == "month":
            return _of(_months_back(written, count), "month")
        return CalendarTime(written.year - count)
    step = {"last": -1, "this": 0, "next": 1}[parts["last"].lower()]
    what = parts["what"].lower()
    if what in ("week", "weekend"):
        return _of(written + timedelta(weeks=step), "month")
    if what == "month":
        return _of(_months_back(written, -step), "month")
    if what == "year":
        return CalendarTime(written.year + step)
    wanted = WEEKDAYS.index(what)
    if step <= 0:  # "last Saturday" / "this Saturday": the latest one before the writing day
        back = (written.weekday() - wanted) % 7 or 7
        return _of(written - timedelta(days=back), "day")
    ahead = (wanted - written.weekday()) % 7 or 7
    return _of(written + timedelta(days=ahead), "day")


def _months_back(day: date, count: int) -> date:
    months = day.year * 12 + day.month - 1 - count
    return date(months // 12, months % 12 + 1, 1)


def matches(asked: CalendarTime, text: str, timestamp: float) -> bool:
    """Whether a memory written at ``timestamp`` with ``text`` has a date meeting ``asked``."""
    return any(asked.met_by(d) for d in _memory_dates(text, timestamp))


_WHEN = re.compile(r"^\s*(?:when|what (?:year|month|day|date)|how long ago)\b", re.IGNORECASE)


def time_boosts(
    query: str, memories: Sequence[Memory], weight: float, when_weight: float
) -> npt.NDArray[np.float64]:
    """``weight`` for the memories with a date meeting the time the query names; for a
    "when" question without one, ``when_weight`` for the memories that state a time."""
    boosts = np.zeros(len(memories))
    asked = asked_time(query) if weight else None
    if asked is not None:
        for i, memory in enumerate(memories):
            if matches(asked, memory.content, memory.created_at):
                boosts[i] = weight
        return boosts
    if when_weight and _WHEN.search(query):
        for i, memory in enumerate(memories):
            if len(_memory_dates(memory.content, memory.created_at)) > 1:
                boosts[i] = when_weight
    return boosts
