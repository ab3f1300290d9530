"""MemorySpaceStore as a LangGraph BaseStore, on real SQLite files.

The first half ports the store contract LangGraph's own stores are tested with
(``libs/checkpoint-sqlite/tests/test_store.py`` upstream; the installed package ships no
conformance suite): batch order, get/put/search/list_namespaces, filters, pagination. The rest
checks what MemorySpace adds (scopes, hybrid search, TTL through ``expires_at``, the op log)
and runs a real StateGraph whose scripted model reads and writes the store across restarts.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

pytest.importorskip("langgraph", reason="needs the langgraph extra: pip install '.[langgraph]'")

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)

from memoryspace import MemorySpace
from memoryspace.errors import InvalidInput
from memoryspace.integrations.langgraph import MemorySpaceStore, item_id


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def space(tmp_path: Path, clock: FakeClock) -> Iterator[MemorySpace]:
    with MemorySpace.open(tmp_path / "lg.db", embedder="hashing", clock=clock) as ms:
        yield ms


@pytest.fixture
def store(space: MemorySpace, clock: FakeClock) -> MemorySpaceStore:
    return MemorySpaceStore(space, clock=clock)


# -- the upstream contract


def test_batch_order(store: MemorySpaceStore) -> None:
    store.put(("test", "foo"), "key1", {"data": "value1"})
    store.put(("test", "bar"), "key2", {"data": "value2"})
    results = store.batch(
        [
            GetOp(namespace=("test", "foo"), key="key1"),
            PutOp(namespace=("test", "bar"), key="key2", value={"data": "value2"}),
            SearchOp(namespace_prefix=("test",), filter={"data": "value1"}, limit=10, offset=0),
            ListNamespacesOp(match_conditions=None, max_depth=None, limit=10, offset=0),
            GetOp(namespace=("test",), key="key3"),
        ]
    )
    assert len(results) == 5
    first = results[0]
    assert isinstance(first, Item)
    assert (first.value, first.key, first.namespace) == (
        {"data": "value1"},
        "key1",
        ("test", "foo"),
    )
    assert results[1] is None
    assert isinstance(results[2], list)
    assert [item.key for item in results[2]] == ["key1"]
    assert isinstance(results[3], list)
    assert ("test", "foo") in results[3] and ("test", "bar") in results[3]
    assert results[4] is None

    reordered = store.batch(
        [
            SearchOp(namespace_prefix=("test",), filter=None, limit=5, offset=0),
            GetOp(namespace=("test", "bar"), key="key2"),
            ListNamespacesOp(match_conditions=None, max_depth=None, limit=5, offset=0),
            PutOp(namespace=("test",), key="key3", value={"data": "value3"}),
            GetOp(namespace=("test", "foo"), key="key1"),
        ]
    )
    assert isinstance(reordered[0], list) and len(reordered[0]) == 2
    assert isinstance(reordered[1], Item) and reordered[1].value == {"data": "value2"}
    assert reordered[3] is None
    assert isinstance(reordered[4], Item) and reordered[4].key == "key1"
    item3 = store.get(("test",), "key3")
    assert item3 is not None and item3.value == {"data": "value3"}


def test_batch_put_with_none_deletes(store: MemorySpaceStore) -> None:
    results = store.batch(
        [
            PutOp(namespace=("test",), key="key1", value={"data": "value1"}),
            PutOp(namespace=("test",), key="key2", value={"data": "value2"}),
            PutOp(namespace=("test",), key="key3", value=None),
        ]
    )
    assert results == [None, None, None]
    assert store.get(("test",), "key3") is None
    store.put(("test",), "key3", {"data": "value3"})
    store.batch([PutOp(namespace=("test",), key="key3", value=None)])
    assert store.get(("test",), "key3") is None
    assert [op.key for op in store.search(("test",))] == ["key2", "key1"]


def test_batch_search_ops(store: MemorySpaceStore) -> None:
    for namespace, key, value in [
        (("test", "foo"), "key1", {"data": "value1", "tag": "a"}),
        (("test", "bar"), "key2", {"data": "value2", "tag": "a"}),
        (("test", "baz"), "key3", {"data": "value3", "tag": "b"}),
    ]:
        store.put(namespace, key, value)
    tagged, first_two, foo = store.batch(
        [
            SearchOp(namespace_prefix=("test",), filter={"tag": "a"}, limit=10, offset=0),
            SearchOp(namespace_prefix=("test",), filter=None, limit=2, offset=0),
            SearchOp(namespace_prefix=("test", "foo"), filter=None, limit=10, offset=0),
        ]
    )
    assert isinstance(tagged, list) and sorted(i.key for i in tagged) == ["key1", "key2"]
    assert isinstance(first_two, list) and len(first_two) == 2
    assert isinstance(foo, list) and [i.namespace for i in foo] == [("test", "foo")]


def test_list_namespaces(store: MemorySpaceStore) -> None:
    namespaces = [
        ("test", "documents", "public"),
        ("test", "documents", "private"),
        ("test", "images", "public"),
        ("test", "images", "private"),
        ("prod", "documents", "public"),
        ("prod", "documents", "private"),
    ]
    for namespace in namespaces:
        store.put(namespace, "dummy", {"content": "dummy"})
    assert store.list_namespaces() == sorted(namespaces)
    assert store.list_namespaces(prefix=("test",)) == sorted(
        n for n in namespaces if n[0] == "test"
    )
    assert sorted(store.list_namespaces(suffix=("public",))) == sorted(
        n for n in namespaces if n[-1] == "public"
    )
    assert store.list_namespaces(max_depth=2) == [
        ("prod", "documents"),
        ("test", "documents"),
        ("test", "images"),
    ]
    assert store.list_namespaces(prefix=("*", "documents")) == sorted(
        n for n in namespaces if n[1] == "documents"
    )
    assert len(store.list_namespaces(limit=3)) == 3
    assert store.list_namespaces(limit=3, offset=3) == sorted(namespaces)[3:6]
    ops = [ListNamespacesOp(match_conditions=(MatchCondition("suffix", ("public",)),))]
    (public,) = store.batch(ops)
    assert isinstance(public, list) and all(n[-1] == "public" for n in public)
    for namespace in namespaces:
        store.delete(namespace, "dummy")
    assert store.list_namespaces() == []


def test_basic_ops_and_value_filters(store: MemorySpaceStore) -> None:
    data: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
        (("test", "docs"), "doc1", {"title": "First", "author": "Alice", "score": 4.5}),
        (("test", "docs"), "doc2", {"title": "Second", "author": "Bob", "score": 3.0}),
        (("test", "images"), "img1", {"title": "Image", "author": "Alice", "meta": {"w": 2}}),
    ]
    for namespace, key, value in data:
        store.put(namespace, key, value)
    assert len(store.search(("test",))) == 3
    assert {i.key for i in store.search(("test", "docs"))} == {"doc1", "doc2"}
    assert {i.key for i in store.search(("test",), filter={"author": "Alice"})} == {"doc1", "img1"}
    assert [i.key for i in store.search(("test",), filter={"score": {"$gt": 4}})] == ["doc1"]
    assert [i.key for i in store.search(("test",), filter={"score": {"$lte": 3}})] == ["doc2"]
    assert [i.key for i in store.search(("test",), filter={"author": {"$ne": "Alice"}})] == ["doc2"]
    assert [i.key for i in store.search(("test",), filter={"meta": {"w": 2}})] == ["img1"]
    assert len(store.search(("test",), limit=2)) == 2
    assert len(store.search(("test",), offset=2)) == 1
    with pytest.raises(InvalidInput, match="operator"):
        store.search(("test",), filter={"score": {"$regex": "x"}})

    before = store.get(("test", "docs"), "doc1")
    assert before is not None
    store.put(("test", "docs"), "doc1", {"title": "First, revised"})
    after = store.get(("test", "docs"), "doc1")
    assert after is not None and after.value == {"title": "First, revised"}
    assert after.created_at == before.created_at
    assert store.get(("test", "other"), "doc1") is None
    store.delete(("test", "docs"), "doc1")
    assert store.get(("test", "docs"), "doc1") is None
    store.delete(("test", "docs"), "doc1")  # deleting what is gone is a no-op, as upstream


def test_namespaces_are_validated(store: MemorySpaceStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {"x": 1})
    with pytest.raises(InvalidNamespaceError):
        store.put((), "k", {"x": 1})
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(namespace=("ok", ""), key="k", value={"x": 1})])
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph", "x"), "k", {"x": 1})
    assert store.list_namespaces() == []


def test_query_search_with_filters_pagination_and_edge_cases(
    space: MemorySpace, clock: FakeClock
) -> None:
    store = MemorySpaceStore(space, fields=["text"], clock=clock)
    docs = [
        ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
        ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
        ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
        ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
    ]
    for key, value in docs:
        store.put(("test",), key, value)
    red_apples = store.search(("test",), query="apple", filter={"color": "red"})
    assert [item.key for item in red_apples] == ["doc1"]
    red_cars = store.search(("test",), query="car", filter={"color": "red"})
    assert red_cars[0].key == "doc2"
    green = store.search(
        ("test",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"}
    )
    assert [item.key for item in green] == ["doc3"]

    for i in range(5):
        store.put(("pages",), f"doc{i}", {"text": f"test document number {i}"})
    first = store.search(("pages",), query="test document", limit=2)
    second = store.search(("pages",), query="test document", limit=2, offset=2)
    every = store.search(("pages",), query="test document", limit=10)
    assert len(first) == len(second) == 2 and len(every) == 5
    assert not {i.key for i in first} & {i.key for i in second}
    scores = [item.score for item in every]
    assert None not in scores and scores == sorted(scores, reverse=True)

    store.put(("edge",), "doc1", {"text": "test document"})
    assert len(store.search(("edge",), query="")) == 1  # an empty query lists, as upstream
    assert len(store.search(("edge",), query=None)) == 1
    assert len(store.search(("edge",), query="test " * 100)) == 1
    assert len(store.search(("edge",), query="test!@#$%^&*()")) == 1


def test_put_re_embeds_and_index_false_leaves_query_results(
    space: MemorySpace, clock: FakeClock
) -> None:
    store = MemorySpaceStore(space, fields=["text"], clock=clock)
    store.put(("test",), "doc1", {"text": "zany zebra Xerxes"})
    store.put(("test",), "doc2", {"text": "something about dogs"})
    store.put(("test",), "doc3", {"text": "text about birds"})
    before = store.search(("test",), query="zany Xerxes")
    assert before[0].key == "doc1"
    store.put(("test",), "doc1", {"text": "new text about dogs"})
    after = store.search(("test",), query="zany Xerxes")
    assert "doc1" not in [item.key for item in after]
    assert "doc1" in [item.key for item in store.search(("test",), query="new text about dogs")]
    store.put(("test",), "doc4", {"text": "new text about dogs"}, index=False)
    assert "doc4" not in [i.key for i in store.search(("test",), query="new text about dogs")]
    assert "doc4" in [item.key for item in store.search(("test",))]


# -- what MemorySpace adds


def test_namespace_maps_onto_scopes_and_puts_patch_one_logged_record(
    store: MemorySpaceStore, space: MemorySpace
) -> None:
    store.put(("alice", "memories", "s1", "deep"), "food", {"text": "Alice loves ramen"})
    store.put(("alice", "memories", "s1", "deep"), "food", {"text": "Alice loves pho"})
    record = space.get(item_id(("alice", "memories", "s1", "deep"), "food"))
    assert (record.user, record.agent, record.session) == ("alice", "memories", "s1")
    assert record.content == '{"text": "Alice loves pho"}'
    assert space.count(user="alice") == 1
    assert [change.op for change in space.history(record.id)] == ["add", "update"]
    hits = space.search("pho", user="alice")
    assert hits and hits[0].memory.id == record.id


def test_query_uses_hybrid_search_over_indexed_fields(space: MemorySpace, clock: FakeClock) -> None:
    store = MemorySpaceStore(space, fields=["text"], clock=clock)
    facts = {
        "pet": "Maren adopted a retired greyhound named Biscuit",
        "food": "Tobi is allergic to hazelnuts",
        "job": "Maren works night shifts as a nurse",
    }
    for key, text in facts.items():
        store.put(("maren", "facts"), key, {"text": text, "private_note": "zebra"})
    store.put(("tobi", "facts"), "pet", {"text": "Tobi has a greyhound too"})
    hits = store.search(("maren",), query="what is the greyhound called?", limit=2)
    assert hits[0].key == "pet" and hits[0].namespace == ("maren", "facts")
    assert hits[0].score is not None and 0 < hits[0].score <= 1
    assert all(hit.namespace[0] == "maren" for hit in hits)
    assert store.search(("maren",), query="zebra") == []  # not an indexed field
    filtered = store.search(("maren",), query="greyhound", filter={"text": facts["job"]})
    assert filtered == []  # the filter applies to the hits of the query
    assert [hit.key for hit in store.search(("tobi",), query="greyhound")] == ["pet"]
    store.put(
        ("maren", "facts"), "extra", {"text": "x", "private_note": "zebra"}, index=["private_note"]
    )
    assert [hit.key for hit in store.search(("maren",), query="zebra")] == ["extra"]


def test_ttl_sets_expires_at_hides_expired_and_reads_renew(
    store: MemorySpaceStore, space: MemorySpace, clock: FakeClock
) -> None:
    store.put(("u",), "short", {"v": 1}, ttl=1)  # minutes
    store.put(("u",), "kept", {"v": 2})
    record = space.get(item_id(("u",), "short"))
    assert record.expires_at == clock.now + 60
    clock.now += 50
    assert store.get(("u",), "short") is not None  # a read renews the TTL ...
    clock.now += 50
    assert store.get(("u",), "short", refresh_ttl=False) is not None  # ... to now + 60
    clock.now += 20
    assert store.get(("u",), "short") is None
    assert [item.key for item in store.search(("u",))] == ["kept"]
    assert space.get(item_id(("u",), "kept")).expires_at is None
    event = space.gc("ttl")
    assert event.collected == 1


def test_default_ttl_from_ttl_config(space: MemorySpace, clock: FakeClock) -> None:
    store = MemorySpaceStore(space, ttl={"default_ttl": 2.0, "refresh_on_read": False}, clock=clock)
    store.put(("u",), "k", {"v": 1})
    assert space.get(item_id(("u",), "k")).expires_at == clock.now + 120
    clock.now += 60
    store.get(("u",), "k")
    assert space.get(item_id(("u",), "k")).expires_at == clock.now + 60  # not renewed


def test_abatch_and_async_methods(store: MemorySpaceStore) -> None:
    async def run() -> list[Any]:
        await store.aput(("a", "b"), "k", {"text": "async hello"})
        got = await store.aget(("a", "b"), "k")
        found = await store.asearch(("a",), query="hello")
        listed = await store.alist_namespaces()
        await store.adelete(("a", "b"), "k")
        gone = await store.aget(("a", "b"), "k")
        return [got, found, listed, gone]

    got, found, listed, gone = asyncio.run(run())
    assert got.value == {"text": "async hello"}
    assert [hit.key for hit in found] == ["k"]
    assert listed == [("a", "b")]
    assert gone is None


def test_rejects_wrong_types(space: MemorySpace) -> None:
    with pytest.raises(InvalidInput, match="MemorySpace"):
        MemorySpaceStore("lg.db")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="fields"):
        MemorySpaceStore(space, fields="text")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="kind"):
        MemorySpaceStore(space, kind="gossip")
    with pytest.raises(InvalidInput, match="min_score"):
        MemorySpaceStore(space, min_score=2.0)
    store = MemorySpaceStore(space)
    with pytest.raises(InvalidInput):
        store.put(("u",), "k", {"bad": float("nan")})
    assert space.count() == 0


# -- a real graph


class ChatState(TypedDict, total=False):
    user: str
    message: str
    memories: list[str]
    reply: str


class ScriptedModel:
    """Stands in for an LLM: records every prompt and answers from what it was shown."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if "allergic" in prompt:
            return "Then no hazelnut cake for you."
        return "Noted."


def build_graph(model: ScriptedModel, store: BaseStore) -> Any:
    def recall(state: ChatState, *, store: BaseStore) -> ChatState:
        hits = store.search((state["user"], "memories"), query=state["message"], limit=3)
        return {"memories": [hit.value["text"] for hit in hits]}

    def respond(state: ChatState) -> ChatState:
        shown = "\n".join(f"- {text}" for text in state.get("memories", []))
        return {"reply": model(f"Memories:\n{shown}\nUser: {state['message']}")}

    def remember(state: ChatState, *, store: BaseStore) -> ChatState:
        if state["message"].lower().startswith("remember"):
            key = f"m{len(store.search((state['user'], 'memories'), limit=1000))}"
            store.put((state["user"], "memories"), key, {"text": state["message"][9:]})
        return {}

    graph = StateGraph(ChatState)
    graph.add_node("recall", recall)
    graph.add_node("respond", respond)
    graph.add_node("remember", remember)
    graph.add_edge(START, "recall")
    graph.add_edge("recall", "respond")
    graph.add_edge("respond", "remember")
    graph.add_edge("remember", END)
    return graph.compile(store=store)


def test_state_graph_reads_and_writes_the_store_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    model = ScriptedModel()
    with MemorySpace.open(path, embedder="hashing") as ms:
        app = build_graph(model, MemorySpaceStore(ms, fields=["text"]))
        app.invoke({"user": "tobi", "message": "remember I am allergic to hazelnuts"})
        app.invoke({"user": "maren", "message": "remember I like hazelnut cake"})
        assert ms.count(user="tobi") == 1 and ms.count(user="maren") == 1

    with MemorySpace.open(path, embedder="hashing") as ms:  # a new process would see the same
        app = build_graph(model, MemorySpaceStore(ms, fields=["text"]))
        out = app.invoke({"user": "tobi", "message": "Can I have some hazelnut cake?"})
    assert out["memories"] == ["I am allergic to hazelnuts"]
    assert "- I am allergic to hazelnuts" in model.prompts[-1]
    assert "I like hazelnut cake" not in model.prompts[-1]  # Maren's memory stays hers
    assert out["reply"] == "Then no hazelnut cake for you."


def test_example_runs_offline_and_remembers(tmp_path: Path) -> None:
    script = Path(__file__).parent.parent / "examples" / "langgraph_store.py"
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "memories shown: ['I am allergic to hazelnuts']" in done.stdout
    assert "you are allergic to hazelnuts" in done.stdout
    assert (tmp_path / "langgraph_memory.db").exists()
