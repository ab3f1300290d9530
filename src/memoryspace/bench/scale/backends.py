"""The scale benchmark's MemorySpace rows on several storage backends in one run.

``--backends sqlite,postgresql://user@host/postgres`` measures MemorySpace once per backend and
size with the same records, vectors and questions: ``sqlite`` is a new file in a temporary
folder; a ``postgresql://`` URL names a server (any database on it the role can connect to)
on which each size gets a new database (``CREATE DATABASE``), dropped after its row. Each row
says its backend; on PostgreSQL the disk is the size of MemorySpace's tables with their TOAST
and indexes (``pg_total_relation_size``), split into the same parts as SQLite's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from memoryspace.bench.scale.disk import PARTS, part_of
from memoryspace.errors import InvalidInput
from memoryspace.store.postgres.databases import fresh_database

SQLITE = "sqlite"


def parse_backends(text: str) -> list[str]:
    """``sqlite`` and ``postgresql://`` URLs from a comma-separated list.

    Raises:
        InvalidInput: an empty list, a repeated entry, or anything else.
    """
    found = [part.strip() for part in text.split(",") if part.strip()]
    if not found:
        raise InvalidInput("--backends takes sqlite and/or postgresql:// URLs, comma-separated")
    for backend in found:
        if backend != SQLITE and not backend.startswith(("postgresql://", "postgres://")):
            raise InvalidInput(
                f"--backends takes 'sqlite' or a postgresql://user@host/db server URL; got "
                f"{backend_name(backend)!r}"
            )
    if len(set(found)) != len(found):
        raise InvalidInput("--backends lists a backend twice")
    return found


def backend_name(backend: str) -> str:
    """``sqlite`` or ``postgresql`` (never the URL, which may hold a password)."""
    return SQLITE if backend == SQLITE else "postgresql"


def postgres_breakdown(url: str) -> dict[str, int]:
    """Bytes per part (``disk.PARTS``; no free pages, index files or WAL here) of the
    database at ``url``: each table of the public schema with its TOAST and indexes."""
    import psycopg

    parts = dict.fromkeys(PARTS, 0)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace s ON s.oid = c.relnamespace "
            "WHERE s.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
    for name, size in rows:
        part = part_of(str(name))
        if str(name) == "memories":  # its GIN index over the words is the full-text part
            parts["fulltext"] += _fulltext_bytes(url)
            size = int(size) - parts["fulltext"]
        parts[part] += int(size)
    return parts


def _fulltext_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COALESCE(sum(pg_relation_size(indexrelid)), 0) FROM pg_index "
            "WHERE indrelid = 'memories'::regclass AND indexrelid::regclass::text = 'memories_tsv'"
        ).fetchone()
    return int(row[0]) if row else 0


def measure_on(
    backends: Sequence[str],
    n: int,
    measure: Callable[[str | None], dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """MemorySpace's row at size ``n`` on each backend, in order: ``measure(db)`` runs one
    (``db`` None for a new SQLite file, else an empty database's URL); each row gets a
    ``backend`` column after ``system``."""
    for backend in backends:
        if backend == SQLITE:
            row = measure(None)
        else:
            with fresh_database(backend, f"scale_{n}") as url:
                row = measure(url)
        yield {"system": row["system"], "backend": backend_name(backend), **row}
