"""Vectors on PostgreSQL: exact float32 bytes (what reads return) beside a pgvector
``embedding``. Writes only store them: the HNSW (cosine) index of a dimension is created once it
holds enough vectors for the index to pay, outside the writers' transactions (``hnsw.py``);
until then ``nearest`` ranks them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from memoryspace.store.base import Keys, Vector
from memoryspace.store.codec import blob_vector, vector_blob
from memoryspace.store.postgres.connections import Conn


def vector_text(vector: Vector) -> str:
    """pgvector's text form of a vector (float32 values written exactly)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"


def put(conn: Conn, key: int, vector: Vector) -> int:
    """Store ``key``'s vector (replacing any); returns its dimension."""
    conn.execute(
        "INSERT INTO vectors(key, vector, embedding) VALUES (%s, %s, %s::vector) "
        "ON CONFLICT (key) DO UPDATE SET vector = EXCLUDED.vector, "
        "embedding = EXCLUDED.embedding",
        (key, vector_blob(vector), vector_text(vector)),
    )
    return int(vector.shape[0])


def put_new(conn: Conn, pairs: Sequence[tuple[int, Vector]]) -> set[int]:
    """Store the vectors of new keys with one ``COPY`` (no round trip per row); returns their
    dimensions."""
    copying = "COPY vectors (key, vector, embedding) FROM STDIN"
    with conn.cursor() as cursor, cursor.copy(copying) as copy:
        for key, vector in pairs:
            copy.write_row((key, vector_blob(vector), vector_text(vector)))
    return {int(vector.shape[0]) for _, vector in pairs}


def of_keys(conn: Conn, keys: Sequence[int]) -> Mapping[int, Vector]:
    """The stored vectors of ``keys`` (keys without one are left out)."""
    rows = conn.execute(
        "SELECT key, vector FROM vectors WHERE key = ANY(%s)", ([int(k) for k in keys],)
    ).fetchall()
    out: dict[int, Vector] = {}
    for key, blob in rows:
        vector = blob_vector(bytes(blob))
        if vector is not None:
            out[int(key)] = vector
    return out


def batch_after(conn: Conn, last: int, batch: int) -> tuple[Keys, Vector] | None:
    """Up to ``batch`` (keys, matrix) with keys above ``last``, in key order; None past the end."""
    rows = conn.execute(
        "SELECT key, vector FROM vectors WHERE key > %s ORDER BY key LIMIT %s", (last, batch)
    ).fetchall()
    if not rows:
        return None
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    matrix = np.vstack([np.frombuffer(bytes(r[1]), dtype="<f4") for r in rows])
    return keys, matrix.astype(np.float32)


# Up to this many allowed keys, a filtered search ranks exactly those rows (no index); above it,
# the HNSW index is scanned iteratively until ``k`` allowed rows are found.
EXACT_UP_TO = 4096


def nearest(
    conn: Conn, query: Vector, k: int, allowed: Keys | None, *, ef_search: int
) -> tuple[Keys, Vector]:
    """The ``k`` stored vectors nearest ``query`` by cosine, best first, as (keys, cosine
    similarities): pgvector's HNSW index of ``query``'s dimension (``hnsw.ef_search`` set for
    this statement), or an exact ranking of the ``allowed`` keys when they are few, or of every
    vector of that dimension while it has no index yet."""
    dimension = int(query.shape[0])
    if allowed is not None and len(allowed) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    cast = f"vector({dimension})"
    distance = f"(embedding::{cast}) <=> %(q)s::{cast}"
    where = f"vector_dims(embedding) = {dimension}"
    params: dict[str, object] = {"q": vector_text(query), "k": k}
    if allowed is not None:
        where += " AND key = ANY(%(allowed)s)"
        params["allowed"] = [int(x) for x in allowed]
    # One pipeline: the settings and the search reach the server together, in one round trip
    # rather than four (BEGIN, two settings, the search, COMMIT each waiting for the last).
    with conn.pipeline(), conn.transaction():
        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
        if allowed is not None and len(allowed) > EXACT_UP_TO:
            conn.execute("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)")
        rows = conn.execute(
            f"SELECT key, 1 - ({distance}) FROM vectors WHERE {where} "
            f"ORDER BY {distance} LIMIT %(k)s",
            params,
        ).fetchall()
    keys = np.array([int(r[0]) for r in rows], dtype=np.int64)
    return keys, np.array([float(r[1]) for r in rows], dtype=np.float32)


def count(conn: Conn, dimension: int) -> int:
    """How many stored vectors have ``dimension`` components."""
    row = conn.execute(
        "SELECT count(*) FROM vectors WHERE vector_dims(embedding) = %s", (dimension,)
    ).fetchone()
    return int(row[0]) if row else 0
