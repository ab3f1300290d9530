"""The PostgreSQL schema, versioned by the ``schema.version`` setting.

Append a migration to ``MIGRATIONS`` to change the schema; never edit one that has shipped.
Every process that opens the database runs ``migrate`` under one advisory lock, so two first
opens do not race. Columns mirror the SQLite schema (``memoryspace.store.schema``) so the
codec's rows and the op log's entries are the same on both backends; JSON fields are kept as
the exact text the codec wrote (filters cast them to ``jsonb``).
"""

from __future__ import annotations

import psycopg

from memoryspace.errors import Conflict, ReadOnly

# A text-search configuration like SQLite's ``porter unicode61``: English stemming, and no
# stopwords (BM25's idf already makes common words count for little).
_V1 = """
CREATE EXTENSION IF NOT EXISTS vector;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'memoryspace_stem') THEN
        CREATE TEXT SEARCH DICTIONARY memoryspace_stem (TEMPLATE = snowball, Language = english);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'memoryspace') THEN
        CREATE TEXT SEARCH CONFIGURATION memoryspace (COPY = simple);
        ALTER TEXT SEARCH CONFIGURATION memoryspace
            ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
            WITH memoryspace_stem;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE memories (
    key          BIGSERIAL PRIMARY KEY,  -- never reused: indexes follow the log by key
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    "user"       TEXT,
    agent        TEXT,
    session      TEXT,
    content      TEXT NOT NULL,
    meta         TEXT NOT NULL DEFAULT '{}',
    tags         TEXT NOT NULL DEFAULT '[]',
    links        TEXT NOT NULL DEFAULT '[]',
    tokens       INTEGER NOT NULL,
    importance   DOUBLE PRECISION NOT NULL,
    pinned       SMALLINT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    valid_from   DOUBLE PRECISION,
    valid_to     DOUBLE PRECISION,
    expires_at   DOUBLE PRECISION,
    generation   INTEGER NOT NULL DEFAULT 0,
    archived     SMALLINT NOT NULL DEFAULT 0,
    content_hash TEXT,
    version      BIGINT NOT NULL DEFAULT 0,
    -- The text of the two turns before and after the memory in its session (see text.py).
    context      TEXT NOT NULL DEFAULT '',
    tsv          tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('memoryspace', content), 'A') ||
        setweight(to_tsvector('memoryspace', tags), 'B') ||
        setweight(to_tsvector('memoryspace', context), 'C')
    ) STORED
);
CREATE INDEX memories_scope ON memories("user", agent, session);
CREATE INDEX memories_session ON memories(session, created_at) WHERE session IS NOT NULL;
CREATE INDEX memories_kind ON memories(kind);
CREATE INDEX memories_created ON memories(created_at);
CREATE INDEX memories_expires ON memories(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memories_archived ON memories(archived) WHERE archived <> 0;
CREATE INDEX memories_content_hash ON memories(content_hash);
CREATE INDEX memories_tsv ON memories USING gin(tsv);

-- Access statistics are counters, not logged (like a file system's atime).
CREATE TABLE access (key BIGINT PRIMARY KEY, count BIGINT NOT NULL, last DOUBLE PRECISION NOT NULL);

-- ``vector`` is the exact float32 bytes (the source of truth); ``embedding`` the same vector
-- for pgvector, indexed by HNSW (cosine) per dimension (see hnsw.py: once it holds enough).
CREATE TABLE vectors (key BIGINT PRIMARY KEY, vector BYTEA NOT NULL, embedding vector);

-- The operation log (see memoryspace.store.oplog).
CREATE TABLE oplog (
    lsn    BIGINT PRIMARY KEY,
    time   DOUBLE PRECISION NOT NULL,
    op     TEXT NOT NULL,
    id     TEXT NOT NULL,
    key    BIGINT NOT NULL,
    before TEXT,
    after  TEXT,
    vector BYTEA,
    actor  TEXT
);
CREATE INDEX oplog_id ON oplog(id, lsn);

-- Checkpoints are LSN tags: the log is never truncated, so the state at one is the log
-- replayed up to its LSN.
CREATE TABLE checkpoints (
    name       TEXT PRIMARY KEY,
    lsn        BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
"""

# Compact op log (see ``memoryspace.store.logformat``): vectors by reference, moved into the
# entry that gave them by a trigger when they are replaced or deleted; a vector still current
# becomes a reference, a delete logs only ``{}``. Older full-state updates stay as they are
# (they still decode); new ones are diffs.
_COMPACT_LOG = """
CREATE INDEX IF NOT EXISTS oplog_vector_ref ON oplog(key) WHERE length(vector) = 0;
CREATE OR REPLACE FUNCTION memoryspace_vector_to_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oplog SET vector = OLD.vector WHERE key = OLD.key AND length(vector) = 0;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS vectors_replaced ON vectors;
CREATE TRIGGER vectors_replaced BEFORE UPDATE OF vector ON vectors
    FOR EACH ROW EXECUTE FUNCTION memoryspace_vector_to_log();
DROP TRIGGER IF EXISTS vectors_deleted ON vectors;
CREATE TRIGGER vectors_deleted BEFORE DELETE ON vectors
    FOR EACH ROW EXECUTE FUNCTION memoryspace_vector_to_log();
UPDATE oplog o SET vector = ''::bytea
FROM (SELECT key, max(lsn) AS lsn FROM oplog WHERE vector IS NOT NULL GROUP BY key) last
JOIN vectors v ON v.key = last.key
WHERE o.lsn = last.lsn AND o.vector = v.vector;
UPDATE oplog SET before = '{}' WHERE op = 'delete' AND before IS NOT NULL;
"""

# Diacritics folded before stemming, as SQLite's ``remove_diacritics 2`` does ("cafe" finds
# "café" and back), where the server has the ``unaccent`` extension (contrib; trusted, so the
# database owner may create it); every stored ``tsv`` is then computed again.
_V2 = """
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent') THEN
        CREATE EXTENSION IF NOT EXISTS unaccent;
        ALTER TEXT SEARCH CONFIGURATION memoryspace
            ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
            WITH unaccent, memoryspace_stem;
        UPDATE memories SET context = context;
    END IF;
END $$;
"""

# BM25 statistics over the whole table, kept by statement triggers in the writing transaction
# (so they commit with the change and every snapshot sees them agree with the rows): the number
# of memories and of their lexemes, and per lexeme the memories holding it anywhere and in the
# content or tags (weights A, B). An unscoped full-text search reads them instead of scanning
# every row. Writers already commit one at a time (the write lock); the upsert goes in lexeme
# order so that two writers outside it could not deadlock either. A word no memory holds any
# more is deleted, so an erased memory's words do not outlive it here.
_TEXT_STATS_TABLES = """
CREATE TABLE IF NOT EXISTS text_totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    documents BIGINT NOT NULL,
    lexemes BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS lexeme_documents (
    lexeme TEXT PRIMARY KEY,
    documents BIGINT NOT NULL,
    in_content BIGINT NOT NULL
);
{triggers}
DELETE FROM text_totals;
INSERT INTO text_totals SELECT 1, count(*), COALESCE(sum(length(tsv)), 0) FROM memories;
DELETE FROM lexeme_documents;
INSERT INTO lexeme_documents
SELECT u.lexeme, count(*), count(*) FILTER (WHERE u.weights && '{A,B}'::text[])
FROM memories m, unnest(m.tsv) u GROUP BY u.lexeme;
"""

# Each event has its own function with static SQL (PL/pgSQL keeps its plans): the rows whose
# words changed, counted +1 as they are now and -1 as they were.
_DELTAS = {
    "insert": ("NEW", "SELECT 1 AS sign, tsv FROM new_rows"),
    "delete": ("OLD", "SELECT -1 AS sign, tsv FROM old_rows"),
    "update": (
        "OLD TABLE AS old_rows NEW",
        "SELECT x.sign, CASE x.sign WHEN 1 THEN n.tsv ELSE o.tsv END AS tsv "
        "FROM new_rows n JOIN old_rows o USING (key), (VALUES (1), (-1)) x(sign) "
        "WHERE n.tsv IS DISTINCT FROM o.tsv",
    ),
}
_APPLY = """
    WITH d AS ({delta}), totals AS (
        UPDATE text_totals s SET documents = s.documents + t.documents,
            lexemes = s.lexemes + t.lexemes
        FROM (SELECT COALESCE(sum(sign), 0) AS documents,
              COALESCE(sum(sign * length(tsv)), 0) AS lexemes FROM d) t
        WHERE t.documents <> 0 OR t.lexemes <> 0 RETURNING 1
    ), counted AS (
        INSERT INTO lexeme_documents AS l (lexeme, documents, in_content)
        SELECT u.lexeme, sum(d.sign), sum(d.sign * (u.weights && '{{A,B}}'::text[])::int)
        FROM d, unnest(d.tsv) u GROUP BY u.lexeme
        HAVING sum(d.sign) <> 0 OR sum(d.sign * (u.weights && '{{A,B}}'::text[])::int) <> 0
        ORDER BY u.lexeme
        ON CONFLICT (lexeme) DO UPDATE SET documents = l.documents + EXCLUDED.documents,
            in_content = l.in_content + EXCLUDED.in_content
        RETURNING l.lexeme, l.documents
    )
    SELECT array_agg(lexeme) INTO emptied FROM counted WHERE documents <= 0;
    IF emptied IS NOT NULL THEN  -- a word no memory holds any more is not kept (erasure)
        DELETE FROM lexeme_documents WHERE lexeme = ANY(emptied) AND documents <= 0;
    END IF;
"""
_TRIGGERS = "".join(
    f"""
CREATE OR REPLACE FUNCTION memoryspace_text_stats_{event}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    emptied TEXT[];
BEGIN
{_APPLY.format(delta=delta)}
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS memories_text_stats_{event} ON memories;
CREATE TRIGGER memories_text_stats_{event} AFTER {event.upper()} ON memories
    REFERENCING {tables} TABLE AS {"old_rows" if event == "delete" else "new_rows"}
    FOR EACH STATEMENT EXECUTE FUNCTION memoryspace_text_stats_{event}();
"""
    for event, (tables, delta) in _DELTAS.items()
)
_TEXT_STATS = _TEXT_STATS_TABLES.replace("{triggers}", _TRIGGERS)

# pgvector's type is stored out of line (``STORAGE external``) when a row passes 2 KB, and a row
# here holds the vector twice (about 3 KB at 384 dimensions), so every exact scan and index build
# fetched each ``embedding`` from TOAST: 124,000 buffer reads for 20,000 vectors. The exact
# bytes go out of line instead and the ``embedding`` stays in the row: an exact scan of 20,000
# is about 5 times faster (130 -> 25 ms at load 10). Rows written before keep their layout.
_INLINE_EMBEDDINGS = """
ALTER TABLE vectors ALTER COLUMN vector SET STORAGE EXTERNAL,
    ALTER COLUMN embedding SET STORAGE MAIN;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _COMPACT_LOG, _V2, _TEXT_STATS, _INLINE_EMBEDDINGS)
SCHEMA_VERSION = len(MIGRATIONS)
# Advisory lock keys (any constants; they only have to differ from each other).
MIGRATION_LOCK = 0x6D656D_01
WRITE_LOCK = 0x6D656D_02
INDEX_LOCK = 0x6D656D_03  # with the dimension: one HNSW build per dimension at a time


def check_schema_version(conn: psycopg.Connection[tuple[object, ...]], where: str) -> None:
    """Check, by reading only, that the database's schema is this MemorySpace's.

    Raises:
        Conflict: the database was written by a newer MemorySpace.
        ReadOnly: it needs an upgrade, which a read-only store cannot make.
    """
    version = _stored_version(conn)
    if version < SCHEMA_VERSION:
        raise ReadOnly(
            f"{where} has schema version {version} and this MemorySpace needs "
            f"{SCHEMA_VERSION}; open it once for writing (on the primary) to upgrade it, then "
            "open the replica again"
        )


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Bring the database to ``SCHEMA_VERSION``, one transaction per migration.

    Raises:
        Conflict: the database was written by a newer MemorySpace.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        version = _stored_version(conn)
        for number in range(version, SCHEMA_VERSION):
            conn.execute(MIGRATIONS[number].encode())
            conn.execute(
                "INSERT INTO settings(key, value) VALUES ('schema.version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(number + 1),),
            )


def _stored_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The schema version the database records (0 for none).

    Raises:
        Conflict: the database was written by a newer MemorySpace.
    """
    row = conn.execute("SELECT value FROM settings WHERE key = 'schema.version'").fetchone()
    version = 0 if row is None else int(str(row[0]))
    if version > SCHEMA_VERSION:
        raise Conflict(
            f"database schema version {version} is newer than this MemorySpace supports "
            f"({SCHEMA_VERSION}); upgrade memoryspace to open it"
        )
    return version
