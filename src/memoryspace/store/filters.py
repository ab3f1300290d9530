"""A ``Filter`` as a SQL condition, written once for every SQL backend.

The selection (scope, kinds, tags, times, validity, meta equality, pinned, archived, expired,
closed) is the same on every backend; only its spelling differs, and a ``Dialect`` holds that:
the parameter mark, and how a backend tests a kind list, a tag and a meta key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memoryspace.errors import InvalidInput
from memoryspace.models import Filter
from memoryspace.validate import META_FILTER_KEY

Condition = tuple[str, list[Any]]


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one SQL backend spells the parts of a filter (alias ``m`` for the memories)."""

    mark: str  # the parameter placeholder
    always: str  # a condition that holds for every row
    column: Callable[[str], str]  # a scope column, quoted if the backend needs it
    kinds: Callable[[list[str]], Condition]
    tag: str  # a condition with one parameter: the record has this tag
    meta_null: Callable[[str], Condition]
    meta_equals: Callable[[str, Any], Condition]


def where_clause(flt: Filter | None, now: float | None, dialect: Dialect) -> Condition:
    """A condition on alias ``m`` selecting what ``flt`` selects at time ``now``, and its
    parameters; ``dialect.always`` when nothing restricts.

    Raises:
        InvalidInput: a meta key other than letters, digits, ``_`` and ``-``.
    """
    if flt is None:
        flt = Filter()
    mark = dialect.mark
    parts: list[str] = []
    params: list[Any] = []

    def add(condition: Condition) -> None:
        parts.append(condition[0])
        params.extend(condition[1])

    for column in ("user", "agent", "session"):
        value = getattr(flt, column)
        if value is not None:
            add((f"m.{dialect.column(column)} = {mark}", [value]))
    if flt.kinds:
        add(dialect.kinds([str(k) for k in flt.kinds]))
    for tag in flt.tags:
        add((dialect.tag, [tag]))
    if flt.since is not None:
        add((f"m.created_at >= {mark}", [flt.since]))
    if flt.until is not None:
        add((f"m.created_at < {mark}", [flt.until]))
    if flt.valid_at is not None:
        add((f"(m.valid_from IS NULL OR m.valid_from <= {mark})", [flt.valid_at]))
        add((f"(m.valid_to IS NULL OR m.valid_to > {mark})", [flt.valid_at]))
    for key, value in flt.meta.items():
        if not META_FILTER_KEY.fullmatch(key):
            raise InvalidInput(f"meta filter key {key!r} may use only letters, digits, _ and -")
        add(dialect.meta_null(key) if value is None else dialect.meta_equals(key, value))
    if flt.pinned is not None:
        add((f"m.pinned = {mark}", [int(flt.pinned)]))
    if not flt.include_archived:
        add(("m.archived = 0", []))
    if not flt.include_expired and now is not None:
        add((f"(m.expires_at IS NULL OR m.expires_at > {mark})", [now]))
    if not flt.include_closed and flt.valid_at is None and now is not None:
        add((f"(m.valid_to IS NULL OR m.valid_to > {mark})", [now]))
    return (" AND ".join(parts) if parts else dialect.always), params
