"""SQL pieces for PostgreSQL: the record columns, and filters as ``WHERE`` conditions.

Rows have the same columns and values as SQLite's (``memoryspace.store.codec``), so the codec
turns them into records on both backends; only the quoting (``"user"`` is a reserved word)
and the JSON operators differ.
"""

from __future__ import annotations

import json
from typing import Any

from memoryspace.models import Filter
from memoryspace.store import filters
from memoryspace.store.filters import Dialect

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


POSTGRES = Dialect(
    mark="%s",
    always="TRUE",
    column=lambda name: f'"{name}"',
    kinds=lambda kinds: ("m.kind = ANY(%s)", [kinds]),
    tag="m.tags::jsonb ? %s",
    meta_null=lambda key: ("jsonb_typeof(m.meta::jsonb -> %s) = 'null'", [key]),
    meta_equals=lambda key, value: ("m.meta::jsonb -> %s = %s::jsonb", [key, json.dumps(value)]),
)


def where_clause(flt: Filter | None, now: float | None) -> tuple[str, list[Any]]:
    """A condition on alias ``m`` and its parameters; ``"TRUE"`` when nothing restricts.

    The same selection as SQLite's ``codec.where_clause`` (``memoryspace.store.filters``).
    """
    return filters.where_clause(flt, now, POSTGRES)


def scope_clause(flt: Filter) -> tuple[str, list[Any]]:
    """Where BM25 counts documents: the live records of the filter's scope (user, agent,
    session) when it names one, else every row (as SQLite's FTS5 counts them)."""
    if (flt.user, flt.agent, flt.session) == (None, None, None):
        return "TRUE", []
    return where_clause(Filter(user=flt.user, agent=flt.agent, session=flt.session), None)
