"""Databases on a PostgreSQL server: a URL for another database on the same server, and a new
empty database for the length of a block (the scale benchmark's sizes, the tests' fixtures)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server: str, label: str) -> Iterator[str]:
    """The URL of a new, empty database ``memoryspace_<label>_<random>`` on ``server``,
    dropped (connections closed by force) when the block ends."""
    import psycopg

    name = f"memoryspace_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
