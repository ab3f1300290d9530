"""The vectors of a SQLite database: read by key, or all of them in batches (to build an index)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from memoryspace.store.base import Keys, Vector
from memoryspace.store.codec import blob_matrix, blob_vector
from memoryspace.store.connections import Connections


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in slices of at most ``size`` (SQLite bounds the parameters of a statement)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def vectors(db: Connections, keys: Sequence[int]) -> Mapping[int, Vector]:
    """The stored vectors of ``keys`` (those that have one)."""
    out: dict[int, Vector] = {}
    with db.reading() as conn:
        for chunk in chunks([int(k) for k in keys], 500):
            marks = ", ".join("?" * len(chunk))
            for key, blob in conn.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
            ):
                vector = blob_vector(blob)
                if vector is not None:
                    out[int(key)] = vector
    return out


def iter_vectors(db: Connections, batch: int) -> Iterator[tuple[Keys, Vector]]:
    """Every stored vector, ``batch`` at a time, as (keys, matrix), each batch its own short
    read transaction."""
    last = -1
    while True:
        with db.reading() as conn:
            rows = conn.execute(
                "SELECT key, vector FROM vectors WHERE key > ? ORDER BY key LIMIT ?",
                (last, batch),
            ).fetchall()
        if not rows:
            return
        keys = np.array([r[0] for r in rows], dtype=np.int64)
        matrix = blob_matrix([r[1] for r in rows])
        yield keys, matrix
        last = int(keys[-1])
