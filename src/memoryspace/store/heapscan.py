"""``Store.heap`` for the SQL backends: the live records without their content, in one narrow
query (see ``memoryspace.heapview``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from memoryspace.heapview import HeapEntry
from memoryspace.models import Kind, parse_link

_EMPTY: Mapping[str, Any] = MappingProxyType({})  # shared: most records have no meta


def heap_query(user_column: str) -> str:
    """The query (no parameters) for every live (unarchived) record, expired ones included, in
    creation order; ``user_column`` is the quoted name of the ``user`` column."""
    return (
        f"SELECT m.id, m.kind, m.{user_column}, m.agent, m.session, m.meta, m.tags, m.links, "
        "m.importance, m.pinned, m.created_at, m.updated_at, m.expires_at, m.generation, "
        "COALESCE(a.count, 0), a.last, m.version "
        "FROM memories m LEFT JOIN access a ON a.key = m.key "
        "WHERE m.archived = 0 ORDER BY m.created_at, m.key"
    )


def heap_entry(row: tuple[Any, ...]) -> HeapEntry:
    """A ``HeapEntry`` from a row of ``heap_query``."""
    kind = Kind(row[1])
    return HeapEntry(
        id=row[0],
        kind=kind,
        user=row[2],
        agent=row[3],
        session=row[4],
        meta=_EMPTY if row[5] == "{}" else json.loads(row[5]),
        tags=() if row[6] == "[]" else tuple(json.loads(row[6])),
        links=() if row[7] == "[]" else tuple(parse_link(v, kind=kind) for v in json.loads(row[7])),
        importance=row[8],
        pinned=bool(row[9]),
        created_at=row[10],
        updated_at=row[11],
        expires_at=row[12],
        generation=row[13],
        access_count=row[14],
        last_access=row[15],
        version=row[16],
    )
