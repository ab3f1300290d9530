"""SQL pieces for PostgreSQL: the record columns, and filters as ``WHERE`` conditions.

Rows have the same columns and values as SQLite's (``memoryspace.store.codec``), so the codec
turns them into records on both backends; only the quoting (``"user"`` is a reserved word)
and the JSON operators differ.
"""

from __future__ import annotations

import json
from typing import Any

from memoryspace.errors import InvalidInput
from memoryspace.models import Filter
from memoryspace.validate import META_FILTER_KEY

FIELDS = (
    "id",
    "kind",
    "user",
    "agent",
    "session",
    "content",
    "meta",
    "tags",
    "links",
    "tokens",
    "importance",
    "pinned",
    "created_at",
    "updated_at",
    "valid_from",
    "valid_to",
    "expires_at",
    "generation",
    "archived",
    "content_hash",
)
COLUMNS = ", ".join('"user"' if f == "user" else f for f in FIELDS)
PLACEHOLDERS = ", ".join(["%s"] * len(FIELDS))
ASSIGNMENTS = ", ".join(f"{c.strip()} = %s" for c in COLUMNS.split(","))
SELECT_MEMORY = (
    'SELECT m.key, m.id, m.kind, m."user", m.agent, m.session, m.content, m.meta, m.tags, '
    "m.links, m.tokens, m.importance, m.pinned, m.created_at, m.updated_at, m.valid_from, "
    "m.valid_to, m.expires_at, m.generation, m.archived, COALESCE(a.count, 0), a.last, "
    "m.version "
    "FROM memories m LEFT JOIN access a ON a.key = m.key"
)


def where_clause(flt: Filter | None, now: float | None) -> tuple[str, list[Any]]:
    """A condition on alias ``m`` and its parameters; ``"TRUE"`` when nothing restricts.

    The same selection as SQLite's ``codec.where_clause``.
    """
    if flt is None:
        flt = Filter()
    parts: list[str] = []
    params: list[Any] = []
    for column in ("user", "agent", "session"):
        value = getattr(flt, column)
        if value is not None:
            parts.append(f'm."{column}" = %s')
            params.append(value)
    if flt.kinds:
        parts.append("m.kind = ANY(%s)")
        params.append([str(k) for k in flt.kinds])
    for tag in flt.tags:
        parts.append("m.tags::jsonb ? %s")
        params.append(tag)
    if flt.since is not None:
        parts.append("m.created_at >= %s")
        params.append(flt.since)
    if flt.until is not None:
        parts.append("m.created_at < %s")
        params.append(flt.until)
    if flt.valid_at is not None:
        parts.append("(m.valid_from IS NULL OR m.valid_from <= %s)")
        parts.append("(m.valid_to IS NULL OR m.valid_to > %s)")
        params.extend([flt.valid_at, flt.valid_at])
    for key, value in flt.meta.items():
        if not META_FILTER_KEY.fullmatch(key):
            raise InvalidInput(f"meta filter key {key!r} may use only letters, digits, _ and -")
        if value is None:
            parts.append("jsonb_typeof(m.meta::jsonb -> %s) = 'null'")
            params.append(key)
        else:
            parts.append("m.meta::jsonb -> %s = %s::jsonb")
            params.extend([key, json.dumps(value)])
    if flt.pinned is not None:
        parts.append("m.pinned = %s")
        params.append(int(flt.pinned))
    if not flt.include_archived:
        parts.append("m.archived = 0")
    if not flt.include_expired and now is not None:
        parts.append("(m.expires_at IS NULL OR m.expires_at > %s)")
        params.append(now)
    if not flt.include_closed and flt.valid_at is None and now is not None:
        parts.append("(m.valid_to IS NULL OR m.valid_to > %s)")
        params.append(now)
    return (" AND ".join(parts) if parts else "TRUE"), params


def scope_clause(flt: Filter) -> tuple[str, list[Any]]:
    """Where BM25 counts documents: the live records of the filter's scope (user, agent,
    session) when it names one, else every row (as SQLite's FTS5 counts them)."""
    if (flt.user, flt.agent, flt.session) == (None, None, None):
        return "TRUE", []
    return where_clause(Filter(user=flt.user, agent=flt.agent, session=flt.session), None)
