"""``MemoryClient``: the facade's methods over HTTP, for code that moves from an embedded
``MemorySpace`` to a shared server by changing one line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from memoryspace.api.structures import ReadingOut, ReflectionOut
from memoryspace.client import calls, structures
from memoryspace.client.calls import Call
from memoryspace.client.conversation import RemoteConversation
from memoryspace.client.structures import RemoteNotes, RemotePast
from memoryspace.context import AssembledContext
from memoryspace.errors import BackendUnavailable
from memoryspace.gc import GCEvent
from memoryspace.models import Change, Checkpoint, Memory, SearchHit
from memoryspace.store.erasure import PurgeReport

T = TypeVar("T")


class MemoryClient:
    """A remote ``MemorySpace``: ``MemoryClient("http://127.0.0.1:8765", api_key=...)``.

    Methods take the facade's arguments and return its types, and raise the same errors
    (``NotFound``, ``Conflict``, ``InvalidInput``, ...; ``Unauthorized``/``Forbidden`` for keys,
    ``BackendUnavailable`` when the server cannot be reached). A context manager.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8765",
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    def _run(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
                call.method, call.path, json=call.body, params=dict(call.params) or None
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the server at {self._http.base_url} failed: {exc}") from exc
        calls.raise_for(response.status_code, response.text)
        return call.parse(response.json())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MemoryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes

    def add(self, content: str, *, dedupe: bool | None = None, **fields: Any) -> Memory:
        return self._run(calls.add(content, dedupe, fields))[0]

    def add_many(
        self, items: Iterable[Mapping[str, Any] | str], *, dedupe: bool | None = None
    ) -> list[Memory]:
        return self._run(calls.add_many(items, dedupe))

    def update(self, id: str, *, if_version: int | None = None, **fields: Any) -> Memory:
        return self._run(calls.update(id, if_version, fields))

    def pin(self, id: str) -> Memory:
        return self._run(calls.pin(id, True))

    def unpin(self, id: str) -> Memory:
        return self._run(calls.pin(id, False))

    def delete(self, ids: str | Sequence[str]) -> list[Change]:
        return self._run(calls.delete(ids))

    def forget(
        self,
        query: str | None = None,
        *,
        k: int = 1,
        all: bool = False,
        min_score: float | None = None,
        dry_run: bool = False,
        **filters: Any,
    ) -> list[str]:
        return self._run(calls.forget(query, k, all, min_score, dry_run, filters))

    # -- reads

    def get(self, id: str) -> Memory:
        return self._run(calls.get(id))

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order asked."""
        from memoryspace.errors import NotFound

        out = []
        for id in ids:
            try:
                out.append(self.get(id))
            except NotFound:
                continue
        return out

    def scan(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        **filters: Any,
    ) -> Iterator[Memory]:
        """Memories matching the filters, fetched a page at a time."""
        left = limit
        while left is None or left > 0:
            size = calls.PAGE if left is None else min(left, calls.PAGE)
            page = self._run(calls.list_page(size, offset, newest_first, filters))
            yield from page
            if len(page) < size:
                return
            offset += len(page)
            left = None if left is None else left - len(page)

    def count(self, **filters: Any) -> int:
        return self._run(calls.count(filters))

    def search(
        self, query: str, *, k: int = 10, min_score: float | None = None, **filters: Any
    ) -> list[SearchHit]:
        return self._run(calls.search(query, k, min_score, filters))

    def context(
        self,
        query: str,
        *,
        budget: int,
        k: int = 20,
        min_score: float | None = None,
        format: str = "text",
        **filters: Any,
    ) -> AssembledContext:
        return self._run(calls.context(query, budget, k, min_score, format, filters))

    # -- the log, checkpoints, maintenance

    def history(self, id: str) -> list[Change]:
        return self._run(calls.history(id))

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        return self._run(calls.changes(since_lsn, limit))

    @property
    def lsn(self) -> int:
        return self._run(calls.lsn())

    def tail(self, since_lsn: int = 0) -> Iterator[Change]:
        """The change feed as it happens (server-sent events), from after ``since_lsn``; runs
        until the caller stops iterating."""
        try:
            with self._http.stream(
                "GET", "/changes/stream", params={"since": since_lsn}, timeout=None
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    calls.raise_for(response.status_code, response.text)
                yield from calls.parse_events(response.iter_lines())
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the change feed failed: {exc}") from exc

    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        return self._run(calls.checkpoint(name, overwrite))

    def checkpoints(self) -> list[Checkpoint]:
        return self._run(calls.checkpoints())

    def restore(self, name: str | None, *, to_lsn: int | None = None) -> list[Change]:
        return self._run(calls.restore(name, to_lsn))

    def stats(self) -> dict[str, Any]:
        return self._run(calls.stats())

    def gc(
        self, collector: str = "generational", *, dry_run: bool = False, **options: Any
    ) -> GCEvent:
        return self._run(calls.gc(collector, dry_run, options))

    # -- agent structures and erasure (see memoryspace.client.structures)

    def conversation(self, *, user: str, agent: str | None = None) -> RemoteConversation:
        """``user``'s conversation memory with ``agent`` on the server."""
        return RemoteConversation(self._run, user, agent)

    def as_of(self, lsn: int) -> RemotePast:
        """The server's space as it was right after ``lsn``: ``get`` and ``search``."""
        return RemotePast(self._run, lsn)

    def notes(self, *, user: str | None = None, agent: str | None = None) -> RemoteNotes:
        """The linked notes of a scope on the server."""
        return RemoteNotes(self._run, user, agent)

    def reflect(
        self, *, user: str | None = None, agent: str | None = None, dry_run: bool = False
    ) -> ReflectionOut:
        return self._run(structures.reflect(user, agent, dry_run))

    def read(
        self,
        source: str,
        question: str | None = None,
        *,
        chunk_tokens: int = 2048,
        memory_tokens: int = 1024,
        store: bool = False,
        store_kind: str = "working",
        **scope: Any,
    ) -> ReadingOut:
        """Read a text through a fixed-size memory on the server (its offline policy)."""
        call = structures.read(
            source, question, chunk_tokens, memory_tokens, store, store_kind, scope
        )
        return self._run(call)

    def purge(
        self,
        ids: str | Sequence[str] | None = None,
        *,
        user: str | None = None,
        agent: str | None = None,
        session: str | None = None,
        dry_run: bool = False,
    ) -> PurgeReport:
        """Erase memories everywhere (the admin right); see ``MemorySpace.purge``."""
        return self._run(structures.purge(ids, user, agent, session, dry_run))
