"""SQLite schema and its migrations, versioned by ``PRAGMA user_version``.

Append a migration to ``MIGRATIONS`` to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

from memoryspace.errors import Conflict
from memoryspace.fingerprint import content_fingerprint
from memoryspace.store import logformat

_V1 = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE memories (
    key        INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: indexes follow the log by key
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    user       TEXT,
    agent      TEXT,
    session    TEXT,
    content    TEXT NOT NULL,
    meta       TEXT NOT NULL DEFAULT '{}',
    tags       TEXT NOT NULL DEFAULT '[]',
    links      TEXT NOT NULL DEFAULT '[]',
    tokens     INTEGER NOT NULL,
    importance REAL NOT NULL,
    pinned     INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    valid_from REAL,
    valid_to   REAL,
    expires_at REAL
);
CREATE INDEX memories_scope ON memories(user, agent, session);
CREATE INDEX memories_session ON memories(session, created_at) WHERE session IS NOT NULL;
CREATE INDEX memories_kind ON memories(kind);
CREATE INDEX memories_created ON memories(created_at);
CREATE INDEX memories_expires ON memories(expires_at) WHERE expires_at IS NOT NULL;

-- Access statistics are counters, not logged (like a file system's atime).
CREATE TABLE access (key INTEGER PRIMARY KEY, count INTEGER NOT NULL, last REAL NOT NULL);

CREATE TABLE vectors (key INTEGER PRIMARY KEY, vector BLOB NOT NULL);

-- Full text, kept by the store in the same transaction as the records. `context` holds the
-- text of the two turns before and after the memory in its session (its dialogue context).
CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, tags, context, tokenize='porter unicode61 remove_diacritics 2'
);

-- The operation log: our write-ahead log of memories. before/after are JSON of the logged
-- fields; vector is set when the entry gives the record a new vector.
CREATE TABLE oplog (
    lsn    INTEGER PRIMARY KEY AUTOINCREMENT,
    time   REAL NOT NULL,
    op     TEXT NOT NULL,
    id     TEXT NOT NULL,
    key    INTEGER NOT NULL,
    before TEXT,
    after  TEXT,
    vector BLOB,
    actor  TEXT
);
CREATE INDEX oplog_id ON oplog(id, lsn);
"""

# Garbage collection: the generation a record lives in (0 young, 1 old) and whether a collection
# archived it (archived records stay for history and restore but queries skip them).
_V2 = """
ALTER TABLE memories ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memories ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
CREATE INDEX memories_archived ON memories(archived) WHERE archived;
"""

# Versions: a record's version is the LSN of its last logged change, so callers can make an update
# conditional on it (compare-and-set) and planners can re-validate what they scanned.
_V3 = """
ALTER TABLE memories ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
UPDATE memories SET version = COALESCE(
    (SELECT max(o.lsn) FROM oplog o WHERE o.id = memories.id AND o.op != 'delete'), 0);
"""

# Deduplication: the fingerprint of each record's normalised content (see
# ``memoryspace.fingerprint``), filled for existing rows, and an index to find copies by it.
_V4 = """
ALTER TABLE memories ADD COLUMN content_hash TEXT;
UPDATE memories SET content_hash = memoryspace_content_fingerprint(content);
CREATE INDEX memories_content_hash ON memories(content_hash);
"""

# Dialogue context per user, agent and session: it was built per session, so users sharing a
# session id saw each other's words through BM25. Recomputed as ``fts.refresh_around`` does
# (the two memories before and after, in (created_at, key) order, joined by spaces; none
# outside a session).
_CONTEXT_PER_SCOPE = """
CREATE TEMP TABLE context_rebuild (key INTEGER PRIMARY KEY, context TEXT NOT NULL);
INSERT INTO context_rebuild
SELECT key, CASE WHEN session IS NULL THEN '' ELSE substr(
    COALESCE(' ' || p2, '') || COALESCE(' ' || p1, '') ||
    COALESCE(' ' || n1, '') || COALESCE(' ' || n2, ''), 2) END
FROM (
    SELECT key, session,
        lag(content, 2) OVER scope AS p2, lag(content, 1) OVER scope AS p1,
        lead(content, 1) OVER scope AS n1, lead(content, 2) OVER scope AS n2
    FROM memories
    WINDOW scope AS (PARTITION BY user, agent, session ORDER BY created_at, key)
);
UPDATE memories_fts
SET context = (SELECT c.context FROM context_rebuild c WHERE c.key = memories_fts.rowid)
WHERE rowid IN (SELECT key FROM context_rebuild);
DROP TABLE context_rebuild;
"""

# Compact op log (see ``memoryspace.store.logformat``): vectors by reference, moved into the
# entry that gave them by triggers when they are replaced or deleted; existing entries
# rewritten: a vector still current becomes a reference, an update keeps only the fields it
# changed (a full state every ``KEYFRAME_EVERY`` updates of a record), a delete only ``{}``.
# ``memoryspace vacuum`` then returns the freed pages to the file system. Safe to run again on
# a log it already rewrote.
_COMPACT_LOG = """
CREATE INDEX IF NOT EXISTS oplog_vector_ref ON oplog(key) WHERE vector = x'';
CREATE TRIGGER IF NOT EXISTS vectors_replaced BEFORE UPDATE OF vector ON vectors BEGIN
    UPDATE oplog SET vector = OLD.vector WHERE key = OLD.key AND vector = x'';
END;
CREATE TRIGGER IF NOT EXISTS vectors_deleted BEFORE DELETE ON vectors BEGIN
    UPDATE oplog SET vector = OLD.vector WHERE key = OLD.key AND vector = x'';
END;
UPDATE oplog SET vector = x'' WHERE lsn IN (
    SELECT max(o.lsn) FROM oplog o WHERE o.vector IS NOT NULL GROUP BY o.key
) AND vector = (SELECT v.vector FROM vectors v WHERE v.key = oplog.key);
CREATE TEMP TABLE update_chain (lsn INTEGER PRIMARY KEY, chain INTEGER NOT NULL);
INSERT INTO update_chain
SELECT lsn, (row_number() OVER (PARTITION BY id ORDER BY lsn)) % memoryspace_keyframe_every()
FROM oplog WHERE op = 'update';
UPDATE oplog SET
    before = memoryspace_log_old(before, after),
    after = CASE (SELECT c.chain FROM update_chain c WHERE c.lsn = oplog.lsn)
        WHEN 0 THEN after
        ELSE memoryspace_log_new(before, after,
            (SELECT c.chain FROM update_chain c WHERE c.lsn = oplog.lsn)) END
WHERE op = 'update' AND json_type(before, '$.id') IS NOT NULL
    AND json_type(after, '$.id') IS NOT NULL AND json_type(before, '$._previous') IS NULL;
DROP TABLE update_chain;
UPDATE oplog SET before = '{}' WHERE op = 'delete' AND before IS NOT NULL;
"""

# Stored vectors follow ``shared.vector_precision`` (float16 for new databases, see
# ``memoryspace.store.codec``): a database made before that keeps float32, the precision its
# vectors and saved HNSW graph have (a database with any setting or log entry is not new).
_OLD_DATABASES_KEEP_FLOAT32_VECTORS = """
INSERT OR IGNORE INTO settings(key, value)
SELECT 'shared.vector_precision', '"float32"'
WHERE EXISTS (SELECT 1 FROM settings) OR EXISTS (SELECT 1 FROM oplog);
"""

# Full text without FTS5's own copy of it: the index becomes an external-content table whose
# content is the view ``memories_fts_source`` (each memory's words and tags from ``memories``, its
# dialogue context computed as ``fts.context_of`` does: the two memories before and after in
# (created_at, key) order within its user, agent and session, joined by spaces; none outside a
# session). The index itself (and so every BM25 score) is the same; only FTS5's stored copy of
# content, tags and context (``memories_fts_content``, ~1.7 KB per memory) goes. The store
# passes the old values to FTS5's 'delete' command on every write (``fts.reindex``); 'rebuild'
# refills the index from the view, as here.
_FTS_EXTERNAL_CONTENT = """
DROP TABLE memories_fts;
DROP VIEW IF EXISTS memories_fts_source;
CREATE VIEW memories_fts_source AS
SELECT key, content, tags, CASE WHEN session IS NULL THEN '' ELSE substr(
    COALESCE(' ' || lag(content, 2) OVER scope, '') ||
    COALESCE(' ' || lag(content, 1) OVER scope, '') ||
    COALESCE(' ' || lead(content, 1) OVER scope, '') ||
    COALESCE(' ' || lead(content, 2) OVER scope, ''), 2) END AS context
FROM memories
WINDOW scope AS (PARTITION BY user, agent, session ORDER BY created_at, key);
CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, tags, context, content='memories_fts_source', content_rowid='key',
    tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts(memories_fts) VALUES ('rebuild');
"""

# FTS5's segment merges out of the writes: automerge off, so no write merges inside its own
# transaction; the store runs a bounded 'merge' step after each write commits instead
# (``fts.merge_step``), which merges a level once it holds ``usermerge`` (16) segments. Merging
# 16 at a time rewrites each posting about half as often as FTS5's default of 4 (measured: bytes
# written per single add 281 KB with 4, 142 KB with 16, at 100,000 memories) for a few more
# segments per search. crisismerge (a level reaching 32 segments is merged inside the write)
# stays as FTS5's backstop should the steps fall behind.
_FTS_MERGES_BETWEEN_WRITES = """
INSERT INTO memories_fts(memories_fts, rank) VALUES ('automerge', 0);
INSERT INTO memories_fts(memories_fts, rank) VALUES ('usermerge', 16);
INSERT INTO memories_fts(memories_fts, rank) VALUES ('crisismerge', 32);
"""

MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _CONTEXT_PER_SCOPE,
    _COMPACT_LOG,
    _OLD_DATABASES_KEEP_FLOAT32_VECTORS,
    _FTS_EXTERNAL_CONTENT,
    _FTS_MERGES_BETWEEN_WRITES,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to ``SCHEMA_VERSION``, one transaction per migration.

    Raises:
        Conflict: the file was written by a newer MemorySpace.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.create_function(
        "memoryspace_content_fingerprint", 1, content_fingerprint, deterministic=True
    )
    logformat.register_migration_functions(conn)
    if version > SCHEMA_VERSION:
        raise Conflict(
            f"database schema version {version} is newer than this MemorySpace supports "
            f"({SCHEMA_VERSION}); upgrade memoryspace to open it"
        )
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] > number:
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies whole."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines():
        if line.strip().startswith("--") and not buffer:
            continue
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out
