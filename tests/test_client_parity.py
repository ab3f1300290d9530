"""The clients against the facade: every public facade call has a remote counterpart (or is
on a commented allow-list of in-process calls), and the calls added for the agent structures,
erasure and the past work against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")

from memoryspace import MemorySpace
from memoryspace.api.structures import NoteOut, ReadingOut, ReflectionOut
from memoryspace.client import AsyncMemoryClient, MemoryClient
from memoryspace.client.conversation import AsyncRemoteConversation, RemoteConversation
from memoryspace.client.structures import AsyncRemoteNotes, RemoteNotes
from memoryspace.context import AssembledContext
from memoryspace.conversation import Conversation
from memoryspace.errors import InvalidInput, NotFound
from memoryspace.models import Memory, SearchHit
from memoryspace.notes import Notes
from memoryspace.store.erasure import PurgeReport
from server_fixtures import served

# Facade calls a remote client does not offer, and why.
IN_PROCESS_ONLY = {
    "open": "the constructor: a client is MemoryClient(url, api_key=...)",
    "configure": "changes this process's settings; shared settings are `memoryspace config`",
    "context_windows": "the context heaps held in this process's memory",
    "embed": "this process's embedder",
    "stored_vectors": "raw vectors, not part of the REST contract",
    "processors": "this process's LLM processors",
    "now": "this process's clock",
    "record_use": "a hint for this process's replacement policy, batched in memory",
    "flush": "writes this process's hot tier back",
    "reembed": "a long job over the whole file: `memoryspace reembed`",
    "compact_log": "file maintenance: `memoryspace compact-log`",
    "vacuum": "file maintenance: `memoryspace vacuum`",
    "export_checkpoint": "writes a file on this machine: `memoryspace checkpoint export`",
    "import_checkpoint": "reads a file on this machine",
    "export_records": "writes a file on this machine: `memoryspace export`",
    "import_records": "reads a file on this machine: `memoryspace import`",
}


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def _parameters(cls: type, name: str) -> dict[str, inspect._ParameterKind]:
    member = inspect.getattr_static(cls, name)
    if isinstance(member, property | classmethod | staticmethod):
        return {}
    signature = inspect.signature(member)
    return {p.name: p.kind for p in signature.parameters.values() if p.name != "self"}


def test_every_facade_call_has_a_client_counterpart() -> None:
    facade = _public(MemorySpace)
    assert set(IN_PROCESS_ONLY) <= facade, "the allow-list names a call the facade lacks"
    remote = facade - set(IN_PROCESS_ONLY)
    for client in (MemoryClient, AsyncMemoryClient):
        assert remote <= _public(client), f"{client.__name__} lacks {remote - _public(client)}"
        assert not set(IN_PROCESS_ONLY) & _public(client), "allow-listed but offered"
        for name in remote:
            # A remote call takes no argument the facade does not (same names, same kinds).
            given, embedded = _parameters(client, name), _parameters(MemorySpace, name)
            extra = {p: k for p, k in given.items() if embedded.get(p) != k}
            accepts_any = inspect.Parameter.VAR_KEYWORD in embedded.values()
            keyword_only = all(k == inspect.Parameter.KEYWORD_ONLY for k in extra.values())
            assert not extra or (accepts_any and keyword_only), f"{client.__name__}.{name}"
    for name in remote:
        sync = inspect.getattr_static(MemoryClient, name)
        asynchronous = inspect.getattr_static(AsyncMemoryClient, name)
        if inspect.isfunction(sync) and name not in {"notes", "as_of", "conversation"}:  # handles
            assert inspect.iscoroutinefunction(asynchronous) or inspect.isasyncgenfunction(
                asynchronous
            ), f"AsyncMemoryClient.{name} is not awaited"


@pytest.mark.parametrize(
    ("embedded", "remotes"),
    [
        (Notes, (RemoteNotes, AsyncRemoteNotes)),
        (Conversation, (RemoteConversation, AsyncRemoteConversation)),
    ],
)
def test_remote_handles_take_the_facade_handles_defaults(
    embedded: type, remotes: tuple[type, ...]
) -> None:
    for remote in remotes:
        shared = {
            n
            for n in _public(remote) & _public(embedded)
            if inspect.isfunction(getattr(embedded, n))
        }
        assert shared, f"{remote.__name__} shares no method with {embedded.__name__}"
        for name in shared:
            here = inspect.signature(getattr(embedded, name)).parameters
            there = inspect.signature(getattr(remote, name)).parameters
            for param in set(here) & set(there):
                assert here[param].default == there[param].default, f"{remote.__name__}.{name}"


@pytest.fixture()
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MemorySpace, str]]:
    with served(tmp_path_factory.mktemp("parity") / "served.db") as pair:
        yield pair


def test_notes_reflect_read_purge_and_the_past_through_the_client(
    server: tuple[MemorySpace, str],
) -> None:
    space, url = server
    with MemoryClient(url) as client:
        notes = client.notes(user="noor")
        first = notes.add("Noor keeps bees on the allotment roof", tags=["hobby"])
        second = notes.add("the bees on the roof gave twelve jars of honey", links=[first.id])
        assert isinstance(first, Memory) and space.get(second.id).links[0].id == first.id
        hits = notes.search("honey from the bees", k=2)
        assert all(isinstance(h, SearchHit) for h in hits)
        assert {h.memory.id for h in hits} == {first.id, second.id}
        shown = notes.show(second.id)
        assert isinstance(shown, NoteOut) and shown.links[0].id == first.id
        assert shown.links[0].content == first.content
        assert not any(link.id == first.id for link in notes.unlink(second.id, first.id).links)
        linked = notes.link(second.id, first.id, "supports")
        assert [(link.id, str(link.type)) for link in linked.links] == [(first.id, "supports")]

        plan = client.reflect(user="noor", dry_run=True)
        assert isinstance(plan, ReflectionOut) and plan.dry_run
        assert plan.lsn_after == plan.lsn_before == space.lsn  # a dry run changes nothing

        text = "Noor moved the hives in April. " * 3 + "The honey was sold at the market."
        reading = client.read(text, "where was the honey sold?", store=True, user="noor")
        assert isinstance(reading, ReadingOut) and "market" in reading.memory
        assert reading.records and space.get(reading.records[0]).user == "noor"
        with pytest.raises(InvalidInput, match="the text itself"):
            client.read(b"bytes", user="noor")  # type: ignore[arg-type]

        before = space.lsn
        space.update(first.id, content="Noor keeps wasps on the allotment roof")
        with client.as_of(before) as past:
            assert past.get(first.id).content == "Noor keeps bees on the allotment roof"
            assert past.search("bees allotment", user="noor")[0].memory.id == first.id

        preview = client.purge(user="noor", dry_run=True)
        assert isinstance(preview, PurgeReport) and first.id in preview.ids
        assert space.get(first.id).content.startswith("Noor keeps wasps")  # nothing erased
        report = client.purge(user="noor")
        assert set(report.ids) == set(preview.ids) and report.records == len(preview.ids)
        with pytest.raises(NotFound):
            client.get(first.id)


def test_the_async_client_has_the_same_calls(server: tuple[MemorySpace, str]) -> None:
    space, url = server

    async def scenario() -> tuple[Memory, list[SearchHit], ReflectionOut, PurgeReport]:
        async with AsyncMemoryClient(url) as client:
            note = await client.notes(user="ines").add("Ines repairs clocks on Saturdays")
            hits = await client.notes(user="ines").search("clock repair")
            plan = await client.reflect(user="ines", dry_run=True)
            past = await client.as_of(note.version).get(note.id)
            assert past.content == note.content
            report = await client.purge(note.id)
            return note, hits, plan, report

    note, hits, plan, report = asyncio.run(scenario())
    assert hits[0].memory.id == note.id and plan.dry_run
    assert report.ids == (note.id,)
    with pytest.raises(NotFound):
        space.get(note.id)


def test_a_conversation_through_the_client_is_the_embedded_one(
    server: tuple[MemorySpace, str],
) -> None:
    space, url = server
    with MemoryClient(url) as client:
        talk = client.conversation(user="ravi", agent="coach")
        first = talk.add_turn("I run 5k every Sunday morning.", "Great habit!")
        talk.add_turn("My knee hurts after long runs.", "Try shorter runs for a week.", 1.7e9)
        assert space.get(first.page).user == "ravi" and first.stm >= 1
        recalled = talk.retrieve("knee pain")
        assert any("knee" in page.content for page in recalled.pages)
        remote = talk.prompt("what does Ravi do on Sundays?", 500)
        embedded = space.conversation(user="ravi", agent="coach")
        local = embedded.prompt("what does Ravi do on Sundays?", 500)
        assert isinstance(remote, AssembledContext)
        assert remote.text == local.text and "5k" in remote.text
        assert talk.persona().subject == embedded.persona().subject
        with pytest.raises(InvalidInput):
            client.conversation(user="")

    async def asynchronous() -> AssembledContext:
        async with AsyncMemoryClient(url) as aclient:
            talk = aclient.conversation(user="ravi", agent="coach")
            await talk.add_turn("I switched to trail running.")
            return await talk.prompt("which running does Ravi do?", 500)

    assert "trail" in asyncio.run(asynchronous()).text
