"""Adds ``batches`` batches of ``size`` records with 8-dimension vectors to a PostgreSQL
database whose vectors get their HNSW index from ``threshold`` on; prints each acknowledged id,
then ``done``. Used by test_postgres_bulk.py: writers racing past the index threshold."""

from __future__ import annotations

import sys

import numpy as np

from memoryspace.models import Memory
from memoryspace.store.postgres import PostgresStore

url, name, batches, size, threshold = sys.argv[1:6]
rng = np.random.default_rng(sum(name.encode()))
with PostgresStore(url, hnsw_threshold=int(threshold)) as store:
    for b in range(int(batches)):
        items = []
        for i in range(int(size)):
            vector = rng.standard_normal(8).astype(np.float32)
            vector /= np.linalg.norm(vector)
            memory = Memory(
                id=f"{name}-{b}-{i}",
                content=f"{name} batch {b} item {i}",
                created_at=1.0,
                updated_at=1.0,
            )
            items.append((memory, vector))
        store.insert(items)
        print("\n".join(m.id for m, _ in items), flush=True)
print("done", flush=True)
