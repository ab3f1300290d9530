"""The agent structures and erasure over HTTP: linked notes (``/notes``), reflection
(``/reflect``), reading (``/read``), ``purge`` and reads of the past (``as_of``), shared by
both clients.

``notes(...)`` returns a handle with the facade ``Notes``' methods (``add``, ``search``,
``show``, ``link``, ``unlink``); ``purge`` returns the facade's ``PurgeReport``. Where the
facade's type holds what the REST answer does not carry (a reflection's edit plan, a reading's
per-chunk counters, a note's linked records in full), the client returns the answer's model
from ``memoryspace.api``: ``ReflectionOut``, ``ReadingOut``, ``NoteOut``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from memoryspace.api.structures import NoteOut, ReadingOut, ReflectionOut
from memoryspace.client.calls import Call, _hits, _memory, _segment
from memoryspace.errors import InvalidInput
from memoryspace.models import Link, Memory, SearchHit
from memoryspace.notes.notes import SEARCH_EXPAND
from memoryspace.store.erasure import PurgeReport

T = TypeVar("T")


def _scope(user: str | None, agent: str | None) -> dict[str, str]:
    return {k: v for k, v in (("user", user), ("agent", agent)) if v is not None}


def _link(link: Link | Mapping[str, Any] | str) -> str | dict[str, Any]:
    if isinstance(link, Link):
        return {"id": link.id, "type": str(link.type)}
    return link if isinstance(link, str) else dict(link)


def add_note(
    scope: Mapping[str, str],
    content: str,
    links: Iterable[Link | Mapping[str, Any] | str],
    tags: Sequence[str],
    fields: Mapping[str, Any],
) -> Call[Memory]:
    body: dict[str, Any] = {"content": content, **scope, **fields}
    if links:
        body["links"] = [_link(link) for link in links]
    if tags:
        body["tags"] = list(tags)
    return Call("POST", "/notes", _memory, body)


def search_notes(
    scope: Mapping[str, str], query: str, k: int, expand: int, min_score: float | None
) -> Call[list[SearchHit]]:
    body: dict[str, Any] = {"query": query, "k": k, "expand": expand, **scope}
    if min_score is not None:
        body["min_score"] = min_score
    return Call("POST", "/notes/search", _hits, body)


def show_note(id: str) -> Call[NoteOut]:
    return Call("GET", f"/notes/{_segment(id)}", NoteOut.model_validate)


def link_note(source: str, target: str, type: str) -> Call[Memory]:
    body = {"target": target, "type": type}
    return Call("POST", f"/notes/{_segment(source)}/links", _memory, body)


def unlink_note(source: str, target: str) -> Call[Memory]:
    return Call("DELETE", f"/notes/{_segment(source)}/links/{_segment(target)}", _memory)


def reflect(user: str | None, agent: str | None, dry_run: bool) -> Call[ReflectionOut]:
    body = {**_scope(user, agent), "dry_run": dry_run}
    return Call("POST", "/reflect", ReflectionOut.model_validate, body)


def read(
    source: str,
    question: str | None,
    chunk_tokens: int,
    memory_tokens: int,
    store: bool,
    store_kind: str,
    scope: Mapping[str, Any],
) -> Call[ReadingOut]:
    if not isinstance(source, str):
        raise InvalidInput(
            "a remote read takes the text itself (a string); read a file and pass its text"
        )
    body: dict[str, Any] = {
        "text": source,
        "chunk_tokens": chunk_tokens,
        "memory_tokens": memory_tokens,
        "store": store,
        "store_kind": store_kind,
        **scope,
    }
    if question is not None:
        body["question"] = question
    return Call("POST", "/read", ReadingOut.model_validate, body)


def _report(data: Any) -> PurgeReport:
    return PurgeReport(
        ids=tuple(data["ids"]),
        records=int(data["records"]),
        log_entries=int(data["log_entries"]),
        lsn=int(data["lsn"]),
        checkpoints_rewritten=tuple(data["checkpoints_rewritten"]),
        checkpoints_dropped=tuple((d["name"], d["reason"]) for d in data["checkpoints_dropped"]),
        files=tuple(data["files"]),
        embedding_cache_entries=int(data["embedding_cache_entries"]),
        hot_tier_evicted=int(data["hot_tier_evicted"]),
        wal_truncated=data["wal_truncated"],
        notes=tuple(data["notes"]),
    )


def purge(
    ids: str | Sequence[str] | None,
    user: str | None,
    agent: str | None,
    session: str | None,
    dry_run: bool,
) -> Call[PurgeReport]:
    body: dict[str, Any] = {"dry_run": dry_run, **_scope(user, agent)}
    if session is not None:
        body["session"] = session
    if ids is not None:
        body["ids"] = [ids] if isinstance(ids, str) else list(ids)
    return Call("POST", "/purge", _report, body)


def get_as_of(lsn: int, id: str) -> Call[Memory]:
    return Call("GET", f"/as_of/{_lsn(lsn)}/memories/{_segment(id)}", _memory)


def search_as_of(
    lsn: int, query: str, k: int, min_score: float | None, filters: Mapping[str, Any]
) -> Call[list[SearchHit]]:
    body: dict[str, Any] = {"query": query, "k": k, **filters}
    if min_score is not None:
        body["min_score"] = min_score
    return Call("POST", f"/as_of/{_lsn(lsn)}/search", _hits, body)


def _lsn(lsn: int) -> int:
    if isinstance(lsn, bool) or not isinstance(lsn, int) or lsn < 0:
        raise InvalidInput(f"lsn must be a whole number >= 0; got {lsn!r}")
    return lsn


class RemotePast:
    """The server's space as it was right after ``lsn`` (``MemoryClient.as_of``): ``get`` and
    ``search``, read-only; a context manager like the facade's ``as_of``."""

    def __init__(self, run: Callable[[Call[Any]], Any], lsn: int):
        self._run = run
        self.lsn = _lsn(lsn)

    def get(self, id: str) -> Memory:
        result: Memory = self._run(get_as_of(self.lsn, id))
        return result

    def search(
        self, query: str, *, k: int = 10, min_score: float | None = None, **filters: Any
    ) -> list[SearchHit]:
        result: list[SearchHit] = self._run(search_as_of(self.lsn, query, k, min_score, filters))
        return result

    def __enter__(self) -> RemotePast:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class AsyncRemotePast:
    """``RemotePast`` for ``AsyncMemoryClient``: the same methods, awaited."""

    def __init__(self, run: Callable[[Call[Any]], Awaitable[Any]], lsn: int):
        self._run = run
        self.lsn = _lsn(lsn)

    async def get(self, id: str) -> Memory:
        result: Memory = await self._run(get_as_of(self.lsn, id))
        return result

    async def search(
        self, query: str, *, k: int = 10, min_score: float | None = None, **filters: Any
    ) -> list[SearchHit]:
        call = search_as_of(self.lsn, query, k, min_score, filters)
        result: list[SearchHit] = await self._run(call)
        return result

    def __enter__(self) -> AsyncRemotePast:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class RemoteNotes:
    """A-MEM linked notes of one scope on the server (``MemoryClient.notes(...)``)."""

    def __init__(self, run: Callable[[Call[Any]], Any], user: str | None, agent: str | None):
        self._run = run
        self._scope = _scope(user, agent)

    def scope(self) -> dict[str, str | None]:
        return {"user": self._scope.get("user"), "agent": self._scope.get("agent")}

    def add(
        self,
        content: str,
        *,
        links: Iterable[Link | Mapping[str, Any] | str] = (),
        tags: Sequence[str] = (),
        **fields: Any,
    ) -> Memory:
        """Add a note; the server links it to its neighbours (``session``, ``importance``,
        ``pinned`` go with it)."""
        result: Memory = self._run(add_note(self._scope, content, links, tags, fields))
        return result

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        expand: int = SEARCH_EXPAND,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        result: list[SearchHit] = self._run(search_notes(self._scope, query, k, expand, min_score))
        return result

    def show(self, id: str) -> NoteOut:
        result: NoteOut = self._run(show_note(id))
        return result

    def link(self, source: str, target: str, type: str = "related") -> Memory:
        result: Memory = self._run(link_note(source, target, type))
        return result

    def unlink(self, source: str, target: str) -> Memory:
        result: Memory = self._run(unlink_note(source, target))
        return result


class AsyncRemoteNotes:
    """``RemoteNotes`` for ``AsyncMemoryClient``: the same methods, awaited."""

    def __init__(
        self,
        run: Callable[[Call[Any]], Awaitable[Any]],
        user: str | None,
        agent: str | None,
    ):
        self._run = run
        self._scope = _scope(user, agent)

    def scope(self) -> dict[str, str | None]:
        return {"user": self._scope.get("user"), "agent": self._scope.get("agent")}

    async def add(
        self,
        content: str,
        *,
        links: Iterable[Link | Mapping[str, Any] | str] = (),
        tags: Sequence[str] = (),
        **fields: Any,
    ) -> Memory:
        result: Memory = await self._run(add_note(self._scope, content, links, tags, fields))
        return result

    async def search(
        self,
        query: str,
        *,
        k: int = 10,
        expand: int = SEARCH_EXPAND,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        result: list[SearchHit] = await self._run(
            search_notes(self._scope, query, k, expand, min_score)
        )
        return result

    async def show(self, id: str) -> NoteOut:
        result: NoteOut = await self._run(show_note(id))
        return result

    async def link(self, source: str, target: str, type: str = "related") -> Memory:
        result: Memory = await self._run(link_note(source, target, type))
        return result

    async def unlink(self, source: str, target: str) -> Memory:
        result: Memory = await self._run(unlink_note(source, target))
        return result
