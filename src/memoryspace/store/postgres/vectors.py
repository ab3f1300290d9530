"""Vectors on PostgreSQL: exact float32 bytes (what reads return) beside a pgvector
``embedding``, with an HNSW (cosine) index per dimension, created with the first vector of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from memoryspace.store.base import Keys, Vector
from memoryspace.store.codec import blob_vector, vector_blob
from memoryspace.store.postgres.connections import Conn

HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on ``vector``


def vector_text(vector: Vector) -> str:
    """pgvector's text form of a vector (float32 values written exactly)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"


def put(conn: Conn, key: int, vector: Vector, indexed: set[int]) -> None:
    """Store ``key``'s vector, and create the HNSW index of its dimension unless that
    dimension is in ``indexed`` (this process made it already), which it then joins."""
    dimension = int(vector.shape[0])
    conn.execute(
        "INSERT INTO vectors(key, vector, embedding) VALUES (%s, %s, %s::vector) "
        "ON CONFLICT (key) DO UPDATE SET vector = EXCLUDED.vector, "
        "embedding = EXCLUDED.embedding",
        (key, vector_blob(vector), vector_text(vector)),
    )
    if dimension not in indexed and 0 < dimension <= HNSW_MAX_DIMENSIONS:
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS vectors_hnsw_{dimension} ON vectors USING hnsw "
            f"((embedding::vector({dimension})) vector_cosine_ops) "
            f"WHERE vector_dims(embedding) = {dimension}"
        )
        indexed.add(dimension)


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
