"""How op-log entries are stored compactly, and how full states are rebuilt from them.

An entry's ``before``/``after`` columns hold JSON objects of two shapes:

* a **full state** (``Memory.content_state()``, always with an ``"id"``): what an add logs as
  ``after``, what every entry logged before compact logs existed, and what an update logs as
  ``after`` once every ``KEYFRAME_EVERY`` entries of a record (a keyframe), so rebuilding a
  state never reads more than that many entries;
* a **diff** (no ``"id"``): an update logs the fields it changed, their old values as
  ``before`` and new ones as ``after`` (plus ``CHAIN``, the number of diffs since the
  record's last full state); a delete logs ``{}`` as ``before`` (the state is the one its
  previous entry left).

Either column may be ``NULL``: an add has no ``before``, a delete no ``after``, and an entry
whose payload was erased (purged) has neither; such an entry rebuilds to ``None`` and so do the
diffs that follow it, up to the next full state.

The ``vector`` column holds the vector an entry gave its record, or ``VECTOR_REF`` (an empty
blob) when that vector is still the record's current one in the ``vectors`` table; when the
vector is replaced or deleted, the database moves it into the entry first (a trigger on SQLite,
one on PostgreSQL), so every entry's vector can be read at any time (see ``RESOLVED_VECTOR``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from memoryspace.models import Change, Memory, Op

State = dict[str, Any]
VECTOR_REF = b""  # the entry's vector is its record's current row in ``vectors``
KEYFRAME_EVERY = 32  # an update logs a full state after this many diffs of the record
CHAIN = "_chain"  # key of an update diff: how many diffs since the record's last full state
DELETED = "{}"  # a delete's ``before``: the state its previous entry left
# Key of a full ``before`` that ``compact-log`` wrote: the LSN of the dropped entry before it
# (the record's version then).
PREVIOUS = "_previous"
# The ``vector`` column with references resolved, on alias ``o`` (both dialects).
RESOLVED_VECTOR = (
    "CASE WHEN length(o.vector) = 0 THEN (SELECT v.vector FROM vectors v WHERE v.key = o.key) "
    "ELSE o.vector END"
)
RESOLVED_LOG_COLUMNS = (
    f"o.lsn, o.time, o.op, o.id, o.key, o.before, o.after, {RESOLVED_VECTOR}, o.actor"
)


def _dumps(value: State) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def is_full(state: State | None) -> bool:
    return state is not None and "id" in state


def chain_of(after_json: str | None) -> int | None:
    """How many diffs precede the next entry since the last full state, from the previous
    entry's ``after``: 0 after a full state, ``None`` when unknown (no entry, or erased)."""
    if after_json is None:
        return None
    after = json.loads(after_json)
    if is_full(after):
        return 0
    chain = after.get(CHAIN)
    return chain if isinstance(chain, int) else None


def encode(
    op: Op, before: Memory | None, after: Memory | None, chain: int | None
) -> tuple[str | None, str | None]:
    """The ``before``/``after`` column values of a new entry. ``chain`` is ``chain_of`` the
    record's previous entry (updates only); an unknown chain starts a new full state."""
    if op == Op.ADD:
        assert after is not None
        return None, _dumps(after.content_state())
    if op == Op.DELETE:
        return DELETED, None
    assert before is not None and after is not None
    old, new = before.content_state(), after.content_state()
    changed = _changed(old, new)
    olds = _dumps({name: old.get(name) for name in changed})
    if chain is None or chain + 1 >= KEYFRAME_EVERY:
        return olds, _dumps(new)
    return olds, _dumps({CHAIN: chain + 1, **{name: new[name] for name in changed}})


def _parse(text: str | None) -> State | None:
    return None if text is None else json.loads(text)


def step(
    state: State | None, before_json: str | None, after_json: str | None
) -> tuple[State | None, State | None]:
    """(before, after) full states of one entry, given ``state``: the full state its record
    had before it (``None`` when unknown or absent)."""
    return _step(state, _parse(before_json), _parse(after_json))


def _step(
    state: State | None, before: State | None, after: State | None
) -> tuple[State | None, State | None]:
    """``step`` on parsed columns."""
    if before is not None and "id" not in before:
        if state is not None:
            before = state
        elif after is not None and "id" in after:  # a keyframe holds what it changed
            before = {**after, **before}
        else:
            before = None
    if after is not None and "id" not in after:
        after = None if before is None else {**before, **after}
        if after is not None:
            after.pop(CHAIN, None)
            after.pop(PREVIOUS, None)
    return before, after


def replayed(
    before_json: str | None, after_json: str | None, current: Memory | None
) -> tuple[Memory | None, Memory | None]:
    """(before, after) of an entry being replayed onto a database whose record is ``current``
    (``None`` when it has none): a diff applies to it."""
    state = None if current is None else current.content_state()
    before, after = step(state, before_json, after_json)
    return _memory(before), _memory(after)


def _memory(state: State | None, version: int = 0) -> Memory | None:
    if state is None:
        return None
    fields = {name: value for name, value in state.items() if name != PREVIOUS}
    fields["version"] = version
    return Memory.from_dict(fields)


# A raw entry as ``changes``/``history`` read it: (lsn, time, op, id, before, after, actor,
# previous LSN of the record).
EntryRow = tuple[Any, ...]
# ``older(ids, lsn, limit)``: up to ``limit`` of the newest entries of each of ``ids`` before
# ``lsn``, as (id, lsn, before, after), in any order.
Older = Callable[[Sequence[str], int, int], Sequence[tuple[Any, ...]]]


def _roll(entries: Sequence[tuple[Any, ...]]) -> tuple[bool, State | None]:
    """From one record's entries, newest first: (found, state after the newest), rolled
    forward from the newest full state among them; found is false without one."""
    for index, (_id, _lsn, _before, after_json) in enumerate(entries):
        after = _parse(after_json)
        if after is None or "id" in after:
            state = after
            for _i, _l, before_json, later_json in reversed(entries[:index]):
                _b, state = _step(state, _parse(before_json), _parse(later_json))
            return True, state
    return False, None


def prior_states(ids: Sequence[str], lsn: int, older: Older) -> dict[str, State | None]:
    """The full state each of ``ids`` had right before LSN ``lsn``: its last full state before
    it, rolled forward over the diffs after that (at most ``KEYFRAME_EVERY`` entries on logs
    written with keyframes; read in one batch, then page by page for older logs)."""
    walk = KEYFRAME_EVERY + 1  # entries a keyframe is at most behind
    by_id: dict[str, list[tuple[Any, ...]]] = {id: [] for id in ids}
    for row in older(ids, lsn, walk):
        by_id[row[0]].append(row)
    out: dict[str, State | None] = {}
    for id, entries in by_id.items():
        entries.sort(key=lambda row: -int(row[1]))
        while True:
            found, state = _roll(entries)
            if found or len(entries) % walk or not entries:
                out[id] = state  # None: no full state left (erased, or dropped by compact-log)
                break
            page = sorted(older([id], int(entries[-1][1]), walk), key=lambda row: -int(row[1]))
            if not page:
                out[id] = None
                break
            entries.extend(page)
    return out


def prior_state(id: str, lsn: int, older: Older) -> State | None:
    """The full state record ``id`` had right before entry ``lsn`` (see ``prior_states``)."""
    return prior_states([id], lsn, older)[id]


def changes_from_rows(rows: Sequence[EntryRow], older: Older) -> list[Change]:
    """``Change``s with full before/after records from entries of the log read in LSN order
    (the feed, or one record's history), reading back (in one batch) for the records whose
    first entry here is a diff."""
    parsed = [(row, _parse(row[4]), _parse(row[5])) for row in rows]
    seen: set[str] = set()
    needing: list[str] = []
    for row, before, after in parsed:
        if row[3] not in seen:
            seen.add(row[3])
            if any(part is not None and "id" not in part for part in (before, after)):
                needing.append(row[3])
    states = prior_states(needing, int(rows[0][0]), older) if needing else {}
    out: list[Change] = []
    for (lsn, when, op, id, _b, _a, actor, previous), before_part, after_part in parsed:
        before, after = _step(states.get(id), before_part, after_part)
        states[id] = after
        if before is not None and PREVIOUS in before:
            previous = previous or before[PREVIOUS]
        out.append(
            Change(
                lsn=lsn,
                time=when,
                op=Op(op),
                id=id,
                before=_memory(before, previous or 0),
                after=_memory(after, lsn),
                actor=actor,
            )
        )
    return out


def full_entry(
    state: State | None, before_json: str | None, after_json: str | None, previous: int | None
) -> tuple[str | None, str | None]:
    """An entry's columns rewritten as full states (for the first entry ``compact-log``
    keeps of a record, whose predecessors, the last at LSN ``previous``, are dropped)."""
    before, after = step(state, before_json, after_json)
    if before is not None and previous is not None:
        before = {**before, PREVIOUS: previous}
    return (
        None if before is None else _dumps(before),
        None if after is None else _dumps(after),
    )


def _changed(before: State, after: State) -> list[str]:
    return sorted(name for name in after if after[name] != before.get(name))


def diff_old(before_json: str, after_json: str) -> str:
    """An old full-state update's ``before`` as a diff (the old values of what changed)."""
    before, after = json.loads(before_json), json.loads(after_json)
    return _dumps({name: before.get(name) for name in _changed(before, after)})


def diff_new(before_json: str, after_json: str, chain: int) -> str:
    """An old full-state update's ``after`` as a diff, ``chain`` diffs after a full state."""
    before, after = json.loads(before_json), json.loads(after_json)
    return _dumps({CHAIN: chain, **{name: after[name] for name in _changed(before, after)}})


def register_migration_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the SQLite migration to compact entries calls."""
    conn.create_function("memoryspace_log_old", 2, diff_old, deterministic=True)
    conn.create_function("memoryspace_log_new", 3, diff_new, deterministic=True)
    conn.create_function("memoryspace_keyframe_every", 0, lambda: KEYFRAME_EVERY)
