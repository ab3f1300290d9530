"""``PostgresStore``: the store contract on a real PostgreSQL server (see ``pg_server``), plus
what only PostgreSQL does (the LSN order across writers, the pgvector index, the schema)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memoryspace.store.base import Store
from memoryspace.store.postgres import PostgresStore
from store_contract import FakeClock, StoreContract


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> None:
        self.url = pg_url

    def make_store(self, tmp_path: Path, clock: FakeClock) -> PostgresStore:
        return PostgresStore(self.url, clock=clock)

    def reopen(self, store: Store, clock: FakeClock) -> PostgresStore:
        return PostgresStore(self.url, clock=clock)
