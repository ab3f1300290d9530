"""The full-text index: each memory's words, tags and dialogue context, kept by the store.

A memory's dialogue context is the text of up to ``RADIUS`` memories before and after it in its
session, ordered by time. A question's words often sit in the turn before or after the one that
answers it ("Where did you go?" / "Sweden!"), so the context column lets BM25 find the answer
turn through its neighbours, at a lower weight than its own words. Every write refreshes the
context of the memories around the ones it touched, in the same transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from memoryspace.models import Memory

RADIUS = 2
WEIGHTS = {"content": 1.0, "tags": 0.5, "context": 0.3}


def add(conn: sqlite3.Connection, key: int, memory: Memory, tags_json: str) -> None:
    """Index a new memory and refresh the contexts around it."""
    conn.execute(
        "INSERT INTO memories_fts(rowid, content, tags, context) VALUES (?, ?, ?, '')",
        (key, memory.content, tags_json),
    )
    refresh_around(conn, memory.session, memory.created_at, key)


def change(
    conn: sqlite3.Connection, key: int, before: Memory, after: Memory, tags_json: str
) -> None:
    """Re-index a changed memory; contexts around its old and new place follow."""
    conn.execute(
        "UPDATE memories_fts SET content = ?, tags = ? WHERE rowid = ?",
        (after.content, tags_json, key),
    )
    moved = (before.session, before.created_at) != (after.session, after.created_at)
    if moved:
        refresh_around(conn, before.session, before.created_at, key)
    if moved or before.content != after.content:
        refresh_around(conn, after.session, after.created_at, key)


def remove(conn: sqlite3.Connection, key: int, before: Memory) -> None:
    """Drop a deleted memory (already gone from ``memories``); its neighbours close ranks."""
    conn.execute("DELETE FROM memories_fts WHERE rowid = ?", (key,))
    refresh_around(conn, before.session, before.created_at, key)


def refresh_around(
    conn: sqlite3.Connection, session: str | None, created_at: float, key: int
) -> None:
    """Recompute the context of the memories within ``RADIUS`` of a place in a session."""
    if session is None:
        if conn.execute("SELECT 1 FROM memories WHERE key = ?", (key,)).fetchone():
            conn.execute("UPDATE memories_fts SET context = '' WHERE rowid = ?", (key,))
        return
    reach = 2 * RADIUS
    before = conn.execute(
        "SELECT key, content FROM memories WHERE session = ? AND "
        "(created_at < ? OR (created_at = ? AND key < ?)) "
        "ORDER BY created_at DESC, key DESC LIMIT ?",
        (session, created_at, created_at, key, reach),
    ).fetchall()[::-1]
    me = conn.execute(
        "SELECT key, content FROM memories WHERE key = ? AND session = ?", (key, session)
    ).fetchall()
    after = conn.execute(
        "SELECT key, content FROM memories WHERE session = ? AND "
        "(created_at > ? OR (created_at = ? AND key > ?)) ORDER BY created_at, key LIMIT ?",
        (session, created_at, created_at, key, reach),
    ).fetchall()
    sequence: Sequence[tuple[int, str]] = before + me + after
    centre = len(before)
    first = max(0, centre - RADIUS)
    last = min(len(sequence), centre + len(me) + RADIUS)
    conn.executemany(
        "UPDATE memories_fts SET context = ? WHERE rowid = ?",
        [(context_of(sequence, i), sequence[i][0]) for i in range(first, last)],
    )


def context_of(sequence: Sequence[tuple[int, str]], position: int) -> str:
    """The text of the neighbours of ``sequence[position]`` within ``RADIUS``."""
    low, high = max(0, position - RADIUS), min(len(sequence), position + RADIUS + 1)
    return " ".join(sequence[j][1] for j in range(low, high) if j != position)


def match_expression(terms: Sequence[str], *, with_context: bool) -> str:
    """An FTS5 query for documents holding any of ``terms``."""
    quoted = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    return f"({quoted})" if with_context else "{content tags} : (" + quoted + ")"
