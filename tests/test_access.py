"""``Access`` and ``ScopedMemory``: namespaces (users, agents, prefixes) and rights, checked on a
real SQLite database; a memory of another namespace answers like a missing one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memoryspace import InvalidInput, MemorySpace, NotFound, Unauthorized
from memoryspace.access import Access, Namespace, Right, ScopedMemory, static_tokens


@pytest.fixture
def space(tmp_path: Path) -> Iterator[MemorySpace]:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        ms.add("acme-1 renews its contract in March", user="acme-1", kind="fact")
        ms.add("acme-2 prefers email over calls", user="acme-2", kind="fact")
        ms.add("globex asked for a refund", user="globex", kind="fact")
        ms.add("the support bot answers in English", user="globex", agent="bot", kind="fact")
        ms.add("a memory of nobody in particular", kind="fact")
        yield ms


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("user:alice", Namespace("user", "alice")),
        ("agent:bot", Namespace("agent", "bot")),
        ("user:acme-*", Namespace("user", "acme-", prefix=True)),
    ],
)
def test_namespaces_parse_and_print_back(text: str, parsed: Namespace) -> None:
    assert Namespace.parse(text) == parsed
    assert str(parsed) == text


@pytest.mark.parametrize("text", ["alice", "team:x", "user:", "user:*", "user:a*b*", 7])
def test_bad_namespaces_are_refused(text: object) -> None:
    with pytest.raises(InvalidInput, match="namespace"):
        Namespace.parse(text)


def test_bad_access_arguments_are_refused() -> None:
    with pytest.raises(InvalidInput, match="right"):
        Access.only(["user:a"], rights=["read", "delete"])
    with pytest.raises(InvalidInput, match="list"):
        Access.only("user:a")
    with pytest.raises(InvalidInput, match="at least one"):
        Access.only([])


def test_admin_implies_every_right_and_nothing_has_none() -> None:
    admin = Access.only(["user:a"], rights=["admin"])
    assert all(admin.can(right) for right in Right)
    nothing = Access.nothing()
    assert not any(nothing.can(right) for right in Right)
    assert not nothing.allows("a", "b")


def test_static_tokens_resolve_known_tokens_only() -> None:
    alice = Access.only(["user:alice"])
    resolve = static_tokens({"t-alice": alice, "t-all": Access.everything()})
    assert resolve("t-alice") is alice
    assert resolve("t-all") == Access.everything()
    assert resolve("t-alic") is None
    assert resolve("") is None
    with pytest.raises(InvalidInput):
        static_tokens({"": alice})


def test_a_prefix_namespace_covers_every_matching_user(space: MemorySpace) -> None:
    acme = ScopedMemory(space, Access.only(["user:acme-*"]))
    for user in ("acme-1", "acme-2"):
        assert [m.user for m in acme.scan(user=user, agent=None)] == [user]
    with pytest.raises(Unauthorized, match=r"user:acme-\*"):
        acme.scan(user="globex", agent=None)
    with pytest.raises(Unauthorized):
        acme.search("refund", user=None, agent=None)


def test_an_agent_namespace_covers_the_agents_memories_of_any_user(space: MemorySpace) -> None:
    bot = ScopedMemory(space, Access.only(["agent:bot"]))
    hits = bot.search("answers English", user="globex", agent="bot", min_score=0)
    assert [hit.memory.content for hit in hits] == ["the support bot answers in English"]
    with pytest.raises(Unauthorized):
        bot.search("refund", user="globex", agent=None)


def test_records_outside_the_namespaces_answer_like_missing_ones(space: MemorySpace) -> None:
    acme = ScopedMemory(space, Access.only(["user:acme-*"]))
    foreign = [m.id for m in space.scan() if m.user != "acme-1" and m.user != "acme-2"]
    assert len(foreign) == 3
    for id in foreign:
        calls = (
            acme.get,
            acme.history,
            lambda i: acme.set_pinned(i, True),
            lambda i: acme.edit(i, content="overwritten"),
        )
        for call in calls:
            with pytest.raises(NotFound) as hidden:
                call(id)
            with pytest.raises(NotFound) as absent:
                call("f" * 24)
            assert str(hidden.value).replace(id, "ID") == str(absent.value).replace("f" * 24, "ID")
        with pytest.raises(NotFound):
            acme.forget(ids=[id])
    assert space.count() == 5 and space.count(pinned=True) == 0


def test_forgetting_by_ids_is_all_or_nothing(space: MemorySpace) -> None:
    acme = ScopedMemory(space, Access.only(["user:acme-*"]))
    mine = next(iter(space.scan(user="acme-1"))).id
    theirs = next(iter(space.scan(user="globex"))).id
    with pytest.raises(NotFound):
        acme.forget(ids=[mine, theirs])
    assert space.count() == 5
    assert [m.id for m in acme.forget(ids=[mine], dry_run=True)] == [mine]
    assert space.count() == 5
    assert [m.id for m in acme.forget(ids=[mine])] == [mine]
    assert space.count() == 4


def test_history_hides_states_from_another_namespace(space: MemorySpace) -> None:
    moved = next(iter(space.scan(user="globex", agent=None))).id
    space.update(moved, user="acme-1")  # it was globex's, now it is acme-1's
    acme = ScopedMemory(space, Access.only(["user:acme-*"]))
    assert acme.get(moved).user == "acme-1"
    assert acme.history(moved) == []  # visible now, but every logged state was globex's
    with pytest.raises(NotFound):
        ScopedMemory(space, Access.only(["user:acme-2"])).history(moved)


def test_an_edit_cannot_move_a_memory_to_another_namespace(space: MemorySpace) -> None:
    acme = ScopedMemory(space, Access.only(["user:acme-*"]))
    mine = next(iter(space.scan(user="acme-1")))
    for fields in ({"user": "globex"}, {"agent": "bot"}, {"session": "s"}, {}):
        with pytest.raises(InvalidInput, match="edit one or more of"):
            acme.edit(mine.id, **fields)
    edited = acme.edit(mine.id, content="acme-1 renews in April", importance=0.9)
    assert (edited.content, edited.importance, edited.user) == (
        "acme-1 renews in April",
        0.9,
        "acme-1",
    )
    assert space.get(mine.id).version == edited.version > mine.version


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ([(b"authorization", b"Bearer t-1")], "t-1"),
        ([(b"Authorization", b"bearer  t-2 ")], "t-2"),
        ([(b"x-api-key", b"t-3")], "t-3"),
        ([(b"authorization", b"Bearer t-4"), (b"x-api-key", b"other")], "t-4"),
        ([(b"x-api-key", b"t-5"), (b"authorization", b"Basic dXNlcg==")], "t-5"),
        ([(b"authorization", b"Basic dXNlcg==")], None),
        ([(b"authorization", b"Bearer ")], None),
        ([], None),
    ],
)
def test_the_credential_of_a_request(headers: list[tuple[bytes, bytes]], token: str | None) -> None:
    from memoryspace.access.credentials import token_from_headers

    assert token_from_headers(headers) == token


def test_a_key_namespace_star_is_every_namespace_and_narrowing_fills_a_single_one() -> None:
    from memoryspace import Forbidden

    every = Access.only(["user:a", "*"], ["read"], key_id="k1")
    assert every.unrestricted and every.names() == ["*"] and every.actor == "key:k1"
    alice = Access.only(["user:alice"], key_id="k2")
    assert alice.narrow({"kind": "fact"}) == {"kind": "fact", "user": "alice"}
    assert alice.narrow({"user": "bob"}) is None  # another namespace: an empty answer
    assert alice.place({"content": "x"}) == {"content": "x", "user": "alice"}
    with pytest.raises(Forbidden, match="outside its namespaces"):
        alice.place({"content": "x", "user": "bob"})
    several = Access.only(["user:alice", "agent:bot"])
    with pytest.raises(InvalidInput, match="more than one user or agent"):
        several.narrow({})
    assert several.narrow({"agent": "bot"}) == {"agent": "bot"}
    prefix = Access.only(["user:acme-*"])
    with pytest.raises(InvalidInput, match="more than one user or agent"):
        prefix.place({"content": "x"})  # a prefix names no one user to fill in
    with pytest.raises(Forbidden, match=r"namespace '\*' \(this session has user:alice\)"):
        alice.require_whole_space(Right.READ)
