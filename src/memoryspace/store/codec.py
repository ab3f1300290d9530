"""Conversions between records and SQLite rows, vectors and blobs, filters and SQL."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt

from memoryspace.fingerprint import content_fingerprint
from memoryspace.models import Filter, Kind, Memory, parse_link
from memoryspace.store import filters
from memoryspace.store.base import Vector
from memoryspace.store.filters import Dialect

COLUMNS = (
    "id, kind, user, agent, session, content, meta, tags, links, tokens, importance, pinned, "
    "created_at, updated_at, valid_from, valid_to, expires_at, generation, archived, content_hash"
)
SELECT_MEMORY = (
    "SELECT m.key, m.id, m.kind, m.user, m.agent, m.session, m.content, m.meta, m.tags, "
    "m.links, m.tokens, m.importance, m.pinned, m.created_at, m.updated_at, m.valid_from, "
    "m.valid_to, m.expires_at, m.generation, m.archived, COALESCE(a.count, 0), a.last, "
    "m.version "
    "FROM memories m LEFT JOIN access a ON a.key = m.key"
)


def row_values(memory: Memory) -> tuple[Any, ...]:
    """The values of ``COLUMNS`` for a record (``content_hash`` is derived from its content)."""
    return (
        memory.id,
        str(memory.kind),
        memory.user,
        memory.agent,
        memory.session,
        memory.content,
        json.dumps(memory.meta, ensure_ascii=False, sort_keys=True),
        json.dumps(list(memory.tags), ensure_ascii=False),
        json.dumps([link.to_dict() for link in memory.links], ensure_ascii=False),
        memory.tokens,
        memory.importance,
        int(memory.pinned),
        memory.created_at,
        memory.updated_at,
        memory.valid_from,
        memory.valid_to,
        memory.expires_at,
        memory.generation,
        int(memory.archived),
        content_fingerprint(memory.content),
    )


def memory_from_row(row: tuple[Any, ...]) -> tuple[int, Memory]:
    """(key, Memory) from a ``SELECT_MEMORY`` row."""
    kind = Kind(row[2])
    return row[0], Memory(
        id=row[1],
        kind=kind,
        user=row[3],
        agent=row[4],
        session=row[5],
        content=row[6],
        # Most records have no meta, tags or links: skip the JSON parser for those.
        meta={} if row[7] == "{}" else json.loads(row[7]),
        tags=() if row[8] == "[]" else tuple(json.loads(row[8])),
        links=() if row[9] == "[]" else tuple(parse_link(v, kind=kind) for v in json.loads(row[9])),
        tokens=row[10],
        importance=row[11],
        pinned=bool(row[12]),
        created_at=row[13],
        updated_at=row[14],
        valid_from=row[15],
        valid_to=row[16],
        expires_at=row[17],
        generation=row[18],
        archived=bool(row[19]),
        access_count=row[20],
        last_access=row[21],
        version=row[22],
    )


def state_json(memory: Memory | None) -> str | None:
    """The logged state of a record as canonical JSON."""
    if memory is None:
        return None
    return json.dumps(memory.content_state(), ensure_ascii=False, sort_keys=True)


def memory_from_state(text: str | None) -> Memory | None:
    if text is None:
        return None
    return Memory.from_dict(json.loads(text))


# Stored vectors (the ``vectors`` table and the op log's copies): float32 blobs are the raw
# little-endian floats (a multiple of 4 bytes); float16 blobs are the raw half floats and one
# marker byte, so their length is odd and every blob says how to read it, whatever the
# database's setting says now (a database holds both after its precision was changed).
# The precision new vectors get is the database's ``shared.vector_precision`` setting (JSON):
# ``MemorySpace`` records it in every database it opens (float16 for a new one, see
# ``Settings.vector_precision``), a schema migration gave "float32" to databases made before
# the setting applied to stored vectors, and a store without the setting (one used without
# ``MemorySpace``) keeps float32, exact.
VECTOR_PRECISIONS = ("float32", "float16")
PRECISION_SETTING = "shared.vector_precision"
UNSET_PRECISION = "float32"
_HALF_MARKER = b"\x10"


def vector_blob(vector: Vector | None, precision: str = "float32") -> bytes | None:
    """``vector`` as a stored blob at ``precision`` (``"float32"`` or ``"float16"``)."""
    if vector is None:
        return None
    if precision == "float16":
        return np.ascontiguousarray(vector, dtype="<f2").tobytes() + _HALF_MARKER
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def blob_vector(blob: bytes | None) -> Vector | None:
    """The float32 vector a stored blob holds, whichever precision it was stored at."""
    if blob is None:
        return None
    if len(blob) % 2:
        return np.frombuffer(blob, dtype="<f2", count=len(blob) // 2).astype(np.float32)
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def blob_matrix(blobs: list[bytes]) -> npt.NDArray[np.float32]:
    """Stored blobs of one dimension as a float32 matrix (one row each)."""
    if blobs and all(len(blob) % 2 for blob in blobs):
        size = len(blobs[0]) - 1
        half = np.frombuffer(b"".join(blob[:-1] for blob in blobs), dtype="<f2")
        return half.reshape(len(blobs), size // 2).astype(np.float32)
    return np.vstack([np.asarray(blob_vector(blob)) for blob in blobs]).astype(np.float32)


def stored_precision(raw: str | None) -> str:
    """A database's vector precision from its raw ``PRECISION_SETTING`` value (or ``None``)."""
    if raw is None:
        return UNSET_PRECISION
    value = json.loads(raw)
    return value if value in VECTOR_PRECISIONS else "float32"


SQLITE = Dialect(
    mark="?",
    always="1",
    column=lambda name: name,
    kinds=lambda kinds: (f"m.kind IN ({', '.join('?' * len(kinds))})", list(kinds)),
    tag="EXISTS (SELECT 1 FROM json_each(m.tags) WHERE json_each.value = ?)",
    meta_null=lambda key: ("json_type(m.meta, ?) = 'null'", [f'$."{key}"']),
    meta_equals=lambda key, value: _sqlite_meta_equals(f'$."{key}"', value),
)


def _sqlite_meta_equals(path: str, value: Any) -> tuple[str, list[Any]]:
    """JSON equality, as PostgreSQL's ``jsonb`` has it: ``true`` is not ``1`` (SQLite's
    ``json_extract`` gives 1 for both), and ``"1"`` is not ``1``."""
    if isinstance(value, bool):
        return "json_type(m.meta, ?) = ?", [path, "true" if value else "false"]
    kinds = "('integer', 'real')" if isinstance(value, int | float) else "('text')"
    return (
        f"json_type(m.meta, ?) IN {kinds} AND json_extract(m.meta, ?) = ?",
        [path, path, value],
    )


def where_clause(flt: Filter | None, now: float | None) -> tuple[str, list[Any]]:
    """A SQL condition on alias ``m`` and its parameters; ``"1"`` when nothing restricts."""
    return filters.where_clause(flt, now, SQLITE)
