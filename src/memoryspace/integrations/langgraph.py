"""A LangGraph ``BaseStore`` backed by a MemorySpace (``pip install 'memoryspace[langgraph]'``).

Targets ``langgraph`` 1.2 (``langgraph.store.base`` from ``langgraph-checkpoint`` 4.x).

How a LangGraph item becomes a MemorySpace record:

- the namespace maps onto the scope: ``namespace[0]`` is the ``user``, ``namespace[1]`` the
  ``agent`` and ``namespace[2]`` the ``session`` (deeper labels only narrow further). So
  ``("alice", "memories")`` is user ``alice``, agent ``memories``, and what a graph stores for
  ``alice`` is found by ``ms.search(..., user="alice")`` and by her conversation;
- the record id is ``lg:`` plus a hash of ``(namespace, key)``, so ``get`` is one lookup and a
  second ``put`` of the same key is a logged patch of the same record (never a copy);
- the value is kept verbatim in ``meta["langgraph"]`` (with the namespace and key), tagged
  ``langgraph``; the record's content is the text of the indexed fields (``index=[...]`` per
  put, else the store's ``fields``, else the whole value as JSON), which is what hybrid search
  (BM25 + vectors) reads for a natural-language ``query``; an item put with ``index=False`` is
  left out of query results (it is still listed by a search without a query);
- ``ttl`` (minutes) sets the record's ``expires_at``; an expired item is hidden at once and
  left for MemorySpace's TTL collector; reads renew the TTL unless ``refresh_ttl=False``.

Every write goes through the facade, so it is logged, undoable and visible to GC and the
change feed. Filters take LangGraph's operators (``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``,
``$lte``) and nested dicts, applied to the stored value.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    get_text_at_path,
    tokenize_path,
    validate_op_namespace,
)

from memoryspace import validate
from memoryspace.errors import Conflict, InvalidInput, NotFound
from memoryspace.models import Memory, parse_kind
from memoryspace.space import MemorySpace

TAG = "langgraph"
ACTOR = "langgraph"
_SCOPES = ("user", "agent", "session")
_MAX_K = 10_000
_OPERATORS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"}


def item_id(namespace: tuple[str, ...], key: str) -> str:
    """The record id of the item ``key`` in ``namespace``."""
    digest = hashlib.sha256(json.dumps([list(namespace), key]).encode("utf-8", "surrogatepass"))
    return "lg:" + digest.hexdigest()[:40]


def scope_of(namespace: tuple[str, ...]) -> dict[str, Any]:
    """The MemorySpace scope a namespace (or namespace prefix) maps onto."""
    return dict(zip(_SCOPES, namespace, strict=False))


class MemorySpaceStore(BaseStore):
    """LangGraph's long-term memory store over a ``MemorySpace`` (see the module docstring).

    ``fields`` are the JSON paths embedded and indexed by default (LangGraph's
    ``IndexConfig["fields"]``; ``None`` indexes the whole value). ``kind`` is the kind of the
    records written. ``ttl`` is LangGraph's ``TTLConfig`` (``default_ttl`` and
    ``refresh_on_read``; expired items are always omitted). A ``query`` returns the hits
    scoring at least ``min_score`` (default: the space's ``Settings.min_score``; 0 ranks every
    item), so an unrelated query finds nothing. ``clock`` must be the clock ``space`` was
    opened with. The caller owns ``space`` and closes it.
    """

    supports_ttl: bool = True

    def __init__(
        self,
        space: MemorySpace,
        *,
        fields: list[str] | None = None,
        kind: str = "fact",
        ttl: TTLConfig | None = None,
        min_score: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(space, MemorySpace):
            raise InvalidInput(f"space must be a MemorySpace, not {type(space).__name__}")
        if fields is not None and (
            not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
        ):
            raise InvalidInput("fields must be a list of JSON paths such as ['text', 'a.b']")
        self.space = space
        self.kind = str(parse_kind(kind))
        self.min_score = None if min_score is None else validate.min_score(min_score)
        self.fields = fields
        self.ttl_config = ttl
        self._clock = clock

    # -- BaseStore

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order (a read sees the writes before it); one result each.

        Raises:
            InvalidNamespaceError: a namespace label is empty or holds a period.
            InvalidInput: an unknown operation, filter operator or a value MemorySpace cannot
                store (not JSON, too large).
        """
        results: list[Result] = []
        for op in ops:
            validate_op_namespace(op)
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, PutOp):
                self._put(op)
                results.append(None)
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            else:
                raise InvalidInput(f"unknown store operation {type(op).__name__}")
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` in a worker thread, so the event loop never waits on SQLite or a model."""
        return await asyncio.to_thread(self.batch, list(ops))

    # -- operations

    def _get(self, op: GetOp) -> Item | None:
        try:
            memory = self.space.get(item_id(op.namespace, op.key))
        except NotFound:
            return None
        if memory.expires_at is not None and memory.expires_at <= self._clock():
            return None
        item: Item = _item(self._refresh(memory, op.refresh_ttl))
        return item

    def _put(self, op: PutOp) -> None:
        record_id = item_id(op.namespace, op.key)
        if op.value is None:
            with contextlib.suppress(NotFound):  # deleting what is not there is a no-op
                self.space.delete(record_id, actor=ACTOR)
            return
        if not isinstance(op.value, Mapping):
            raise InvalidInput(f"a store value is a dict, not {type(op.value).__name__}")
        value = dict(op.value)
        meta = {
            "langgraph": {
                "namespace": list(op.namespace),
                "key": op.key,
                "value": value,
                "ttl_minutes": op.ttl,
                "indexed": op.index is not False,
            }
        }
        content = self._text(value, op.index)
        ttl = None if op.ttl is None else float(op.ttl) * 60.0
        try:
            self.space.update(record_id, content=content, meta=meta, ttl=ttl, actor=ACTOR)
            return
        except NotFound:
            pass
        try:
            self.space.add(
                content,
                id=record_id,
                kind=self.kind,
                meta=meta,
                tags=[TAG],
                ttl=ttl,
                **scope_of(op.namespace),
            )
        except Conflict:  # another writer added it since: patch theirs
            self.space.update(record_id, content=content, meta=meta, ttl=ttl, actor=ACTOR)

    def _search(self, op: SearchOp) -> list[SearchItem]:
        if op.limit < 0 or op.offset < 0:
            raise InvalidInput("search limit and offset must not be negative")
        wanted = op.offset + op.limit
        found: list[tuple[Memory, float | None]] = []
        if op.query:
            found = self._query(op, wanted)
        else:
            for memory in self.space.scan(newest_first=True, **self._filters(op.namespace_prefix)):
                if self._selected(memory, op):
                    found.append((memory, None))
                    if len(found) >= wanted:
                        break
        page = found[op.offset : wanted]
        for memory, _ in page:
            self._refresh(memory, op.refresh_ttl)
        return [_item(memory, search=True, score=score) for memory, score in page]

    def _query(self, op: SearchOp, wanted: int) -> list[tuple[Memory, float | None]]:
        """Hybrid search, widened until enough hits pass the namespace and value filters."""
        assert op.query is not None
        filters = self._filters(op.namespace_prefix)
        k = min(max(4 * wanted, 32), _MAX_K)
        while True:
            hits = self.space.search(op.query, k=k, min_score=self.min_score, **filters)
            found: list[tuple[Memory, float | None]] = [
                (hit.memory, hit.score)
                for hit in hits
                if hit.memory.meta[TAG].get("indexed", True) and self._selected(hit.memory, op)
            ]
            if len(found) >= wanted or len(hits) < k or k >= _MAX_K:
                return found
            k = min(k * 4, _MAX_K)

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        if op.limit < 0 or op.offset < 0:
            raise InvalidInput("list_namespaces limit and offset must not be negative")
        prefix = _prefix_of(op.match_conditions)
        seen: set[tuple[str, ...]] = set()
        for memory in self.space.scan(**self._filters(prefix)):
            namespace = _namespace(memory)
            if all(_matches_condition(c, namespace) for c in op.match_conditions or ()):
                seen.add(namespace if op.max_depth is None else namespace[: op.max_depth])
        return sorted(seen)[op.offset : op.offset + op.limit]

    # -- helpers

    def _filters(self, prefix: tuple[str, ...]) -> dict[str, Any]:
        return {"tags": [TAG], **scope_of(prefix)}

    def _selected(self, memory: Memory, op: SearchOp) -> bool:
        namespace = _namespace(memory)
        if namespace[: len(op.namespace_prefix)] != tuple(op.namespace_prefix):
            return False
        value = memory.meta[TAG]["value"]
        return not op.filter or all(
            _compare(value.get(name), wanted) for name, wanted in op.filter.items()
        )

    def _text(self, value: dict[str, Any], index: Any) -> str:
        paths = self.fields if index is None else (index or None)
        if paths is None or paths == ["$"]:
            return json.dumps(value, ensure_ascii=False, sort_keys=True) or "{}"
        texts: list[str] = []
        for path in paths:
            texts.extend(get_text_at_path(value, tokenize_path(path)))
        return "\n".join(texts) or json.dumps(value, ensure_ascii=False, sort_keys=True)

    def _refresh(self, memory: Memory, refresh_ttl: bool) -> Memory:
        minutes = memory.meta[TAG].get("ttl_minutes")
        refresh = refresh_ttl and (self.ttl_config or {}).get("refresh_on_read", True)
        if minutes is None or not refresh:
            return memory
        return self.space.update(memory.id, ttl=float(minutes) * 60.0, actor=ACTOR)


def _namespace(memory: Memory) -> tuple[str, ...]:
    return tuple(memory.meta[TAG]["namespace"])


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _item(memory: Memory, *, search: bool = False, score: float | None = None) -> Any:
    stored = memory.meta[TAG]
    fields = {
        "namespace": tuple(stored["namespace"]),
        "key": stored["key"],
        "value": dict(stored["value"]),
        "created_at": _when(memory.created_at),
        "updated_at": _when(memory.updated_at),
    }
    if search:
        return SearchItem(score=score, **fields)
    return Item(**fields)


def _prefix_of(conditions: tuple[MatchCondition, ...] | None) -> tuple[str, ...]:
    """The literal leading labels of the prefix conditions (to narrow the scan by scope)."""
    for condition in conditions or ():
        if condition.match_type == "prefix":
            literal: list[str] = []
            for label in condition.path:
                if label == "*":
                    break
                literal.append(label)
            return tuple(literal)
    return ()


def _matches_condition(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs: Iterator[tuple[str, str]] = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise InvalidInput(f"unknown match type {condition.match_type!r}; use prefix or suffix")
    return all(wanted == "*" or label == wanted for label, wanted in pairs)


def _compare(value: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality, nested dicts, lists, and ``$`` operators."""
    if isinstance(wanted, dict):
        if any(name.startswith("$") for name in wanted):
            return all(_apply(value, name, operand) for name, operand in wanted.items())
        return isinstance(value, dict) and all(
            _compare(value.get(name), inner) for name, inner in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(_compare(a, b) for a, b in zip(value, wanted, strict=True))
        )
    return bool(value == wanted)


def _apply(value: Any, operator: str, operand: Any) -> bool:
    if operator not in _OPERATORS:
        raise InvalidInput(f"unknown filter operator {operator!r}; use one of {sorted(_OPERATORS)}")
    if operator == "$eq":
        return bool(value == operand)
    if operator == "$ne":
        return bool(value != operand)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False  # a missing or non-numeric field never satisfies a comparison
    if not isinstance(operand, int | float) or isinstance(operand, bool):
        raise InvalidInput(f"{operator} compares numbers; got {type(operand).__name__}")
    if operator == "$gt":
        return value > operand
    if operator == "$gte":
        return value >= operand
    if operator == "$lt":
        return value < operand
    return value <= operand
