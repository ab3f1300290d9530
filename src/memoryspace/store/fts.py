"""The full-text index: each memory's words, tags and dialogue context, kept by the store.

A memory's dialogue context is the text of up to ``RADIUS`` memories before and after it in its
session, ordered by time. Only memories of the same user, agent and session count, so two users
who share a session id never see each other's words through the index. A question's words
often sit in the turn before or after the one that answers it ("Where did you go?" /
"Sweden!"), so the context column lets BM25 find the answer turn through its neighbours, at a
lower weight than its own words.

FTS5 keeps only its index (``content='memories_fts_source'``, an external-content table): the
words are read from ``memories`` and the context computed by the view ``memories_fts_source``
(see ``memoryspace.store.schema``), so the text is stored once. An external-content index is
told what to forget: every write passes the values it had indexed for a row (FTS5's ``'delete'``
command) and then the new ones, in the same transaction. ``reindex`` computes both from
``memories`` as it is after the write plus the record as it was, so a wrong ``'delete'`` cannot
come from a stale copy; ``INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')`` rebuilds
the index from the view (the migration does), and ``'integrity-check'`` compares the two.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence

from memoryspace.errors import MemorySpaceError
from memoryspace.models import Filter, Memory
from memoryspace.store.codec import where_clause
from memoryspace.store.connections import Connections
from memoryspace.store.logversion import LogVersioned, log_sequence

RADIUS = 2
WEIGHTS = {"content": 1.0, "tags": 0.5, "context": 0.3}
K1 = 1.2  # FTS5's bm25() constants
_IDF_FLOOR = 1e-6  # FTS5's idf for a term in more than half the documents
# Memories read on each side of a place: the contexts of those within RADIUS + 1 of it (one
# more, as the changed memory's arrival or departure shifts them) read RADIUS further.
_REACH = 2 * RADIUS + 2

# Pages one ``merge_step`` may write (FTS5 pages: 4 KB).
MERGE_PAGES = 32

_FORGET = (
    "INSERT INTO memories_fts(memories_fts, rowid, content, tags, context) "
    "VALUES ('delete', ?, ?, ?, ?)"
)
_INDEX = "INSERT INTO memories_fts(rowid, content, tags, context) VALUES (?, ?, ?, ?)"

_logger = logging.getLogger(__name__)

Indexed = tuple[str, str, str]  # (content, tags, context) as FTS5 indexed a row
_Entry = tuple[float, int, str, str]  # (created_at, key, content, tags) in a dialogue


def indexed_tags(memory: Memory) -> str:
    """The tags column's text, as ``memories.tags`` stores it and the index reads it."""
    return json.dumps(list(memory.tags), ensure_ascii=False)


def add(conn: sqlite3.Connection, key: int, memory: Memory) -> None:
    """Index a new memory (already in ``memories``) and refresh the contexts around it."""
    reindex(conn, key, None, memory)


def change(conn: sqlite3.Connection, key: int, before: Memory, after: Memory) -> None:
    """Re-index a changed memory (``memories`` holds ``after``); contexts around its old and
    new place follow."""
    reindex(conn, key, before, after)


def remove(conn: sqlite3.Connection, key: int, before: Memory) -> None:
    """Drop a deleted memory (already gone from ``memories``); its neighbours close ranks."""
    reindex(conn, key, before, None)


def _place(memory: Memory) -> tuple[str | None, str | None, str | None, float]:
    """Where a memory sits in a dialogue: its scope and time."""
    return memory.user, memory.agent, memory.session, memory.created_at


def reindex(
    conn: sqlite3.Connection, key: int, before: Memory | None, after: Memory | None
) -> None:
    """Bring the index from the memory ``key`` being ``before`` to it being ``after`` (``None``:
    absent), with ``memories`` already holding ``after``: each row whose indexed values differ
    (the memory's own, its neighbours' contexts at its old and new place) is forgotten with the
    values it had and indexed with its new ones."""
    if (
        before is not None
        and after is not None
        and _place(before) == _place(after)
        and before.content == after.content
        and before.tags == after.tags
    ):
        return  # nothing the index holds changed
    was: dict[int, Indexed] = {}
    now: dict[int, Indexed] = {}
    for place in _places(before, after):
        _compare_around(conn, key, place, before, after, was, now)
    for memory, world in ((before, was), (after, now)):
        if memory is not None and memory.session is None:
            world[key] = (memory.content, indexed_tags(memory), "")
    forget = [(k, *was[k]) for k in was if now.get(k) != was[k]]
    index = [(k, *now[k]) for k in now if was.get(k) != now[k]]
    conn.executemany(_FORGET, forget)
    conn.executemany(_INDEX, index)


def _places(before: Memory | None, after: Memory | None) -> list[Memory]:
    """The distinct places in a dialogue the memory leaves and takes."""
    places = [m for m in (before, after) if m is not None and m.session is not None]
    if len(places) == 2 and _place(places[0]) == _place(places[1]):
        return places[1:]
    return places


def _compare_around(
    conn: sqlite3.Connection,
    key: int,
    place: Memory,
    before: Memory | None,
    after: Memory | None,
    was: dict[int, Indexed],
    now: dict[int, Indexed],
) -> None:
    """Fill ``was`` and ``now`` with the indexed values, before and after the change, of the
    memories within ``RADIUS + 1`` of ``place`` (the memory ``key`` itself where it is there)."""
    window = _window(conn, key, place)
    point = (place.created_at, key)
    sequences = [_with(window, key, memory, place) for memory in (before, after)]
    near: set[int] = set()
    for sequence in sequences:
        centre = bisect.bisect_left([(e[0], e[1]) for e in sequence], point)
        low, high = max(0, centre - RADIUS - 1), min(len(sequence), centre + RADIUS + 2)
        near.update(sequence[i][1] for i in range(low, high))
    for sequence, memory, world in zip(sequences, (before, after), (was, now), strict=True):
        for position, (_, k, content, tags) in enumerate(sequence):
            if k == key and (memory is None or _place(memory) != _place(place)):
                continue  # the memory's own values are taken at its own place
            if k in near:
                world[k] = (content, tags, context_of_entries(sequence, position))


def _window(conn: sqlite3.Connection, key: int, place: Memory) -> list[_Entry]:
    """The memories other than ``key`` within ``_REACH`` of ``place`` in its dialogue, in
    (created_at, key) order."""
    user, agent, session, created_at = _place(place)
    same = "session = ? AND user IS ? AND agent IS ? AND key != ?"
    scope = (session, user, agent, key)
    earlier = conn.execute(
        f"SELECT created_at, key, content, tags FROM memories WHERE {same} AND "
        "(created_at < ? OR (created_at = ? AND key < ?)) "
        "ORDER BY created_at DESC, key DESC LIMIT ?",
        (*scope, created_at, created_at, key, _REACH),
    ).fetchall()
    later = conn.execute(
        f"SELECT created_at, key, content, tags FROM memories WHERE {same} AND "
        "(created_at > ? OR (created_at = ? AND key > ?)) ORDER BY created_at, key LIMIT ?",
        (*scope, created_at, created_at, key, _REACH),
    ).fetchall()
    return [(float(t), int(k), str(c), str(g)) for t, k, c, g in earlier[::-1] + later]


def _with(window: list[_Entry], key: int, memory: Memory | None, place: Memory) -> list[_Entry]:
    """``window`` with the memory ``key`` as ``memory`` where it is in the same dialogue (a
    place beyond a full window lands at its end, where no context read here sees it)."""
    if memory is None or _place(memory)[:3] != _place(place)[:3]:
        return window
    entry = (memory.created_at, key, memory.content, indexed_tags(memory))
    position = bisect.bisect_left([(e[0], e[1]) for e in window], (entry[0], entry[1]))
    return [*window[:position], entry, *window[position:]]


def context_of_entries(sequence: Sequence[_Entry], position: int) -> str:
    """The text of the neighbours of ``sequence[position]`` within ``RADIUS``."""
    return context_of([(e[1], e[2]) for e in sequence], position)


def context_of(sequence: Sequence[tuple[int, str]], position: int) -> str:
    """The text of the neighbours of ``sequence[position]`` within ``RADIUS``."""
    low, high = max(0, position - RADIUS), min(len(sequence), position + RADIUS + 1)
    return " ".join(sequence[j][1] for j in range(low, high) if j != position)


def merge_step(db: Connections) -> bool:
    """Merge FTS5's segments by at most ``MERGE_PAGES`` pages, in a short transaction of its own.

    FTS5 adds one segment per write transaction; its automerge would merge them inside the
    write that crosses its threshold (a 100k-memory database stalled one ``add`` 347 ms writing
    1.28 MB). The index has automerge off (``schema._FTS_MERGES_BETWEEN_WRITES``) and the store
    calls this after each committed write instead: FTS5 merges only a level holding at least
    ``usermerge`` (16) segments, and continues a merge it left unfinished, so segments stay few
    and each step writes about ``MERGE_PAGES`` pages (FTS5 stops at a term's end, so a common
    term's long posting list is written whole). Returns whether it merged anything. A failure
    (the lock held by another writer, a full disk) is left to the next write's step: the write
    it follows has committed already.
    """
    try:
        with db.writing() as conn:
            changes = conn.total_changes
            conn.execute(
                "INSERT INTO memories_fts(memories_fts, rank) VALUES ('merge', ?)", (MERGE_PAGES,)
            )
            return conn.total_changes - changes >= 2  # FTS5's sign that it did some work
    except (MemorySpaceError, sqlite3.Error) as exc:
        _logger.debug("full-text merge step skipped: %s", exc)
        return False


def match_expression(terms: Sequence[str], *, with_context: bool) -> str:
    """An FTS5 query for documents holding any of ``terms``."""
    quoted = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    return f"({quoted})" if with_context else "{content tags} : (" + quoted + ")"


def search(
    db: Connections,
    terms: Sequence[str],
    k: int,
    flt: Filter,
    now: float | None,
    *,
    with_context: bool = True,
    stats: TermStats | None = None,
) -> list[tuple[int, float]]:
    """Top ``k`` (key, BM25 score) for documents matching any of ``terms``, best first.

    When the filter names a scope (user, agent, session), document frequencies are counted
    within it, so one tenant's memories never change how another's rank; ``stats`` remembers
    those counts until the next write.
    """
    if not terms or k < 1:
        return []
    if (flt.user, flt.agent, flt.session) != (None, None, None):
        return _scoped(db, terms, k, flt, now, with_context, stats)
    return _bm25(db, match_expression(terms, with_context=with_context), k, flt, now)


def _bm25(
    db: Connections,
    match: str,
    k: int | None,
    flt: Filter,
    now: float | None,
    keys: tuple[int, int] | None = None,
) -> list[tuple[int, float]]:
    """FTS5's top ``k`` for ``match`` among the memories passing ``flt``; with ``keys``
    (lowest, highest), only rows in that key range are visited (FTS5 seeks to it)."""
    where, params = where_clause(flt, now)
    if keys is not None:
        where = f"f.rowid BETWEEN {int(keys[0])} AND {int(keys[1])} AND {where}"
    weights = ", ".join(str(w) for w in WEIGHTS.values())
    # CROSS JOIN keeps FTS as the outer loop; otherwise SQLite may probe FTS once per row.
    if where == "1":
        sql = (
            f"SELECT rowid, bm25(memories_fts, {weights}) AS s FROM memories_fts "
            "WHERE memories_fts MATCH ? ORDER BY s LIMIT ?"
        )
    else:
        sql = (
            f"SELECT f.rowid, bm25(memories_fts, {weights}) AS s FROM memories_fts f "
            f"CROSS JOIN memories m ON m.key = f.rowid WHERE memories_fts MATCH ? AND {where} "
            "ORDER BY s LIMIT ?"
        )
    with db.reading() as conn:
        rows = conn.execute(sql, [match, *params, -1 if k is None else k]).fetchall()
    return [(int(key), -float(score)) for key, score in rows]


def _scoped(
    db: Connections,
    terms: Sequence[str],
    k: int,
    flt: Filter,
    now: float | None,
    with_context: bool,
    stats: TermStats | None = None,
) -> list[tuple[int, float]]:
    """BM25 with document frequencies counted inside the scope (user / agent / session).

    FTS5 counts over the whole table, so one tenant's memories would change how another's
    rank. A one-term ``bm25()`` is ``idf(term) * tf-part(doc)``, so each term's scores are
    rescaled by ``idf within the scope / idf over the table`` and summed.
    """
    scores: dict[int, float] = {}
    span = stats.span(db, flt) if stats is not None else _scope_keys(db, flt)
    if span is None:  # an empty scope
        return []
    idfs = _idfs(db, terms, flt, with_context, span, stats)
    wanted = max(k, 200)
    # A term in more than half the scope's memories has FTS5's floor idf (1e-6): it cannot move
    # a ranking, but reading its long posting list costs most of the search. Skip it when a
    # rarer term alone already matches enough memories to fill the list.
    enough = any(here >= wanted and idf > _IDF_FLOOR for here, idf, _ in idfs)
    for term, (here, idf_here, idf_everywhere) in zip(terms, idfs, strict=True):
        if not here or (enough and idf_here <= _IDF_FLOOR):
            continue
        match = match_expression([term], with_context=with_context)
        for key, score in _bm25(db, match, wanted, flt, now, span):
            scores[key] = scores.get(key, 0.0) + score * (idf_here / idf_everywhere)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:k]


def max_score(
    db: Connections,
    terms: Sequence[str],
    flt: Filter,
    *,
    with_context: bool = True,
    stats: TermStats | None = None,
) -> float:
    """The most BM25 that ``search`` could give any memory for ``terms``: the query's own bound.

    One term adds at most ``idf * (k1 + 1)`` (when its frequency in a memory grows without
    limit), so ``search``'s scores divided by this lie in [0, 1]. Terms no memory holds count as
    if one did: a query whose words are missing from the store is not fully matched by the one
    memory holding its only known word. Idfs are those ``search`` uses (inside the scope when
    the filter names one); an empty scope's bound is 0.
    """
    return (K1 + 1.0) * sum(
        _idf(documents, max(matching, 1))
        for matching, documents in _counts(db, terms, flt, with_context, stats=stats)
        if documents
    )


def _counts(
    db: Connections,
    terms: Sequence[str],
    flt: Filter,
    with_context: bool,
    span: tuple[int, int] | None = None,
    stats: TermStats | None = None,
) -> list[tuple[int, int]]:
    """(documents holding the term, documents) per term, in the scope ``search`` counts in.

    ``span`` is the scope's (lowest, highest) key when the caller has it (``_scope_keys``).
    """
    if stats is not None:
        return stats.counts(db, terms, flt, with_context, span)
    return _count(db, terms, flt, with_context, span)


def _count(
    db: Connections,
    terms: Sequence[str],
    flt: Filter,
    with_context: bool,
    span: tuple[int, int] | None,
) -> list[tuple[int, int]]:
    scoped = _is_scoped(flt)
    where, params = where_clause(_scope_of(flt), None)
    out = []
    with db.reading() as conn:
        if scoped:
            documents = conn.execute(
                f"SELECT count(*) FROM memories m WHERE {where}", params
            ).fetchone()[0]
            if span is None and documents:
                span = _scope_keys_in(conn, flt)
        else:  # every row, as FTS5's own idf counts them
            documents = _row_count(conn)
        for term in terms:
            match = match_expression([term], with_context=with_context)
            if scoped:
                if not documents or span is None:
                    out.append((0, int(documents)))
                    continue
                row = conn.execute(  # FTS5 seeks to the scope's keys instead of reading all
                    "SELECT count(*) FROM memories_fts f CROSS JOIN memories m "
                    "ON m.key = f.rowid WHERE memories_fts MATCH ? "
                    f"AND f.rowid BETWEEN ? AND ? AND {where}",
                    [match, span[0], span[1], *params],
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?", (match,)
                ).fetchone()
            out.append((int(row[0]), int(documents)))
    return out


def _idfs(
    db: Connections,
    terms: Sequence[str],
    flt: Filter,
    with_context: bool,
    span: tuple[int, int] | None = None,
    stats: TermStats | None = None,
) -> list[tuple[int, float, float]]:
    """Per term: documents holding it in the scope, its idf there and over the whole table."""
    unscoped = Filter()
    return [
        (here, _idf(in_scope, here), _idf(total, everywhere))
        for (here, in_scope), (everywhere, total) in zip(
            _counts(db, terms, flt, with_context, span, stats),
            _counts(db, terms, unscoped, with_context, stats=stats),
            strict=True,
        )
    ]


class TermStats(LogVersioned):
    """Document counts per (scope, term) and each scope's key range, remembered until the log
    moves.

    A scoped search counts, per query term, the scope's memories holding it, and its bound
    counts them again; the same words recur across queries. It also reads the scope's lowest
    and highest key (``span``) from the scope index, visiting every index entry of the scope
    (about 1 ms per 1,000 memories): the same scopes recur across searches too. Both are dropped
    when the op log moves (``memoryspace.store.logversion``). Thread-safe.
    """

    def __init__(self, size: int = 65_536) -> None:
        super().__init__()
        self._size = size
        self._entries: OrderedDict[tuple[object, ...], tuple[int, int]] = OrderedDict()
        self._spans: OrderedDict[tuple[object, ...], tuple[int, int] | None] = OrderedDict()
        self.hits = self.misses = 0
        self.span_hits = self.span_misses = 0

    def _forget(self) -> None:
        self._entries.clear()
        self._spans.clear()

    def span(self, db: Connections, flt: Filter) -> tuple[int, int] | None:
        """The scope's lowest and highest key (``None``: the scope is empty), as
        ``_scope_keys`` reads it."""
        scope = (flt.user, flt.agent, flt.session)
        version = log_sequence(db)
        if version is None:  # inside a write transaction: it may still roll back
            return _scope_keys(db, flt)
        with self._lock:
            self._at(version)
            if scope in self._spans:
                self.span_hits += 1
                return self._spans[scope]
            self.span_misses += 1
        found = _scope_keys(db, flt)
        with self._lock:
            if self._version == version:
                self._spans[scope] = found
                while len(self._spans) > self._size:
                    self._spans.popitem(last=False)
        return found

    def counts(
        self,
        db: Connections,
        terms: Sequence[str],
        flt: Filter,
        with_context: bool,
        span: tuple[int, int] | None,
    ) -> list[tuple[int, int]]:
        scope = (flt.user, flt.agent, flt.session, with_context)
        version = log_sequence(db)
        if version is None:  # inside a write transaction: it may still roll back
            return _count(db, terms, flt, with_context, span)
        with self._lock:
            self._at(version)
            known = [self._entries.get((*scope, term)) for term in terms]
            if all(found is not None for found in known):
                self.hits += 1
                return [found for found in known if found is not None]
            self.misses += 1
        counted = _count(db, terms, flt, with_context, span)
        with self._lock:
            if self._version == version:
                for term, count in zip(terms, counted, strict=True):
                    self._entries[(*scope, term)] = count
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return counted


class FTS5Index:
    """The SQLite text provider (a ``TextIndex``): FTS5's BM25 with per-scope statistics."""

    def __init__(self, db: Connections) -> None:
        self._db = db
        self.stats = TermStats()

    def search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter,
        now: float | None,
        *,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        return search(self._db, terms, k, flt, now, with_context=with_context, stats=self.stats)

    def bound(self, terms: Sequence[str], flt: Filter) -> float:
        return max_score(self._db, terms, flt, stats=self.stats)


def _idf(documents: int, matching: int) -> float:
    """FTS5's BM25 idf, with its floor for terms in more than half the documents."""
    idf = math.log((documents - matching + 0.5) / (matching + 0.5))
    return idf if idf > 0 else _IDF_FLOOR


def _is_scoped(flt: Filter) -> bool:
    return (flt.user, flt.agent, flt.session) != (None, None, None)


def _scope_of(flt: Filter) -> Filter:
    return Filter(user=flt.user, agent=flt.agent, session=flt.session)


def _scope_keys(db: Connections, flt: Filter) -> tuple[int, int] | None:
    """The lowest and highest key in the filter's scope (``None``: the scope is empty)."""
    with db.reading() as conn:
        return _scope_keys_in(conn, flt)


def _scope_keys_in(conn: sqlite3.Connection, flt: Filter) -> tuple[int, int] | None:
    """The scope's key range, read from the scope index (a scope's memories are usually added
    together, so the range is narrow: FTS5 then reads only that stretch of each posting list)."""
    where, params = where_clause(_scope_of(flt), None)
    low, high = conn.execute(
        f"SELECT min(m.key), max(m.key) FROM memories m WHERE {where}", params
    ).fetchone()
    return None if low is None else (int(low), int(high))


def _row_count(conn: sqlite3.Connection) -> int:
    """The number of indexed rows, from FTS5's own averages record (what its bm25 counts), in
    O(1); ``count(*)`` over ``memories`` reads the whole table (~10 ms per query at 1M)."""
    row = conn.execute("SELECT block FROM memories_fts_data WHERE id = 1").fetchone()
    if row is None or not row[0]:
        return int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])
    return _varint(bytes(row[0]))


def _varint(data: bytes) -> int:
    """SQLite's variable-length integer at the start of ``data`` (FTS5 writes its counts so)."""
    value = 0
    for position, byte in enumerate(data[:9]):
        if position == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return value
