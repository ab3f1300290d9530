"""The PostgreSQL store (records, op log, settings, checkpoints) and its text and vector
providers; needs the ``postgres`` extra (psycopg 3, psycopg-pool)."""

from memoryspace.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
