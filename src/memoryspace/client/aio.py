"""``AsyncMemoryClient``: ``MemoryClient`` for asyncio (the same methods, awaited)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from memoryspace.api.structures import ReadingOut, ReflectionOut
from memoryspace.client import calls, structures
from memoryspace.client.calls import Call
from memoryspace.client.conversation import AsyncRemoteConversation
from memoryspace.client.structures import AsyncRemoteNotes, AsyncRemotePast
from memoryspace.context import AssembledContext
from memoryspace.errors import BackendUnavailable
from memoryspace.gc import GCEvent
from memoryspace.models import Change, Checkpoint, Memory, SearchHit
from memoryspace.store.erasure import PurgeReport

T = TypeVar("T")


class AsyncMemoryClient:
    """A remote ``MemorySpace`` for asyncio: ``AsyncMemoryClient(url, api_key=...)``.

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, json=call.body, params=dict(call.params) or None
            )
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the server at {self._http.base_url} failed: {exc}") from exc
        calls.raise_for(response.status_code, response.text)
        return call.parse(response.json())

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMemoryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- writes

    async def add(self, content: str, *, dedupe: bool | None = None, **fields: Any) -> Memory:
        return (await self._run(calls.add(content, dedupe, fields)))[0]

    async def add_many(
        self, items: Iterable[Mapping[str, Any] | str], *, dedupe: bool | None = None
    ) -> list[Memory]:
        return await self._run(calls.add_many(items, dedupe))

    async def update(self, id: str, *, if_version: int | None = None, **fields: Any) -> Memory:
        return await self._run(calls.update(id, if_version, fields))

    async def pin(self, id: str) -> Memory:
        return await self._run(calls.pin(id, True))

    async def unpin(self, id: str) -> Memory:
        return await self._run(calls.pin(id, False))

    async def delete(self, ids: str | Sequence[str]) -> list[Change]:
        return await self._run(calls.delete(ids))

    async def forget(
        self,
        query: str | None = None,
        *,
        k: int = 1,
        all: bool = False,
        min_score: float | None = None,
        dry_run: bool = False,
        **filters: Any,
    ) -> list[str]:
        return await self._run(calls.forget(query, k, all, min_score, dry_run, filters))

    # -- reads

    async def get(self, id: str) -> Memory:
        return await self._run(calls.get(id))

    async def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order asked."""
        from memoryspace.errors import NotFound

        out = []
        for id in ids:
            try:
                out.append(await self.get(id))
            except NotFound:
                continue
        return out

    async def scan(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        **filters: Any,
    ) -> AsyncIterator[Memory]:
        """Memories matching the filters, fetched a page at a time."""
        left = limit
        while left is None or left > 0:
            size = calls.PAGE if left is None else min(left, calls.PAGE)
            page = await self._run(calls.list_page(size, offset, newest_first, filters))
            for memory in page:
                yield memory
            if len(page) < size:
                return
            offset += len(page)
            left = None if left is None else left - len(page)

    async def count(self, **filters: Any) -> int:
        return await self._run(calls.count(filters))

    async def search(
        self, query: str, *, k: int = 10, min_score: float | None = None, **filters: Any
    ) -> list[SearchHit]:
        return await self._run(calls.search(query, k, min_score, filters))

    async def context(
        self,
        query: str,
        *,
        budget: int,
        k: int = 20,
        min_score: float | None = None,
        format: str = "text",
        **filters: Any,
    ) -> AssembledContext:
        return await self._run(calls.context(query, budget, k, min_score, format, filters))

    # -- the log, checkpoints, maintenance

    async def history(self, id: str) -> list[Change]:
        return await self._run(calls.history(id))

    async def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        return await self._run(calls.changes(since_lsn, limit))

    async def lsn(self) -> int:
        return await self._run(calls.lsn())

    async def tail(self, since_lsn: int = 0) -> AsyncIterator[Change]:
        """The change feed as it happens (server-sent events), from after ``since_lsn``; runs
        until the caller stops iterating."""
        try:
            async with self._http.stream(
                "GET", "/changes/stream", params={"since": since_lsn}, timeout=None
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    calls.raise_for(response.status_code, response.text)
                data: list[str] = []
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line)
                    elif not line.strip() and data:
                        for change in calls.parse_events([*data, ""]):
                            yield change
                        data = []
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the change feed failed: {exc}") from exc

    async def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        return await self._run(calls.checkpoint(name, overwrite))

    async def checkpoints(self) -> list[Checkpoint]:
        return await self._run(calls.checkpoints())

    async def restore(self, name: str | None, *, to_lsn: int | None = None) -> list[Change]:
        return await self._run(calls.restore(name, to_lsn))

    async def stats(self) -> dict[str, Any]:
        return await self._run(calls.stats())

    async def gc(
        self, collector: str = "generational", *, dry_run: bool = False, **options: Any
    ) -> GCEvent:
        return await self._run(calls.gc(collector, dry_run, options))

    # -- agent structures and erasure (see memoryspace.client.structures)

    def conversation(self, *, user: str, agent: str | None = None) -> AsyncRemoteConversation:
        """``user``'s conversation memory with ``agent`` on the server (its methods are awaited)."""
        return AsyncRemoteConversation(self._run, user, agent)

    def as_of(self, lsn: int) -> AsyncRemotePast:
        """The server's space as it was right after ``lsn``: ``get`` and ``search``."""
        return AsyncRemotePast(self._run, lsn)

    def notes(self, *, user: str | None = None, agent: str | None = None) -> AsyncRemoteNotes:
        """The linked notes of a scope on the server (their methods are awaited)."""
        return AsyncRemoteNotes(self._run, user, agent)

    async def reflect(
        self, *, user: str | None = None, agent: str | None = None, dry_run: bool = False
    ) -> ReflectionOut:
        return await self._run(structures.reflect(user, agent, dry_run))

    async def read(
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
        return await self._run(call)

    async def purge(
        self,
        ids: str | Sequence[str] | None = None,
        *,
        user: str | None = None,
        agent: str | None = None,
        session: str | None = None,
        dry_run: bool = False,
    ) -> PurgeReport:
        """Erase memories everywhere (the admin right); see ``MemorySpace.purge``."""
        return await self._run(structures.purge(ids, user, agent, session, dry_run))
