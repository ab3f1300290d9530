"""The notes, reflection and reading routes on a real server with API keys: each goes through
the same access layer as the memory routes, so a note of another namespace answers exactly like
a missing one, links never reach across namespaces, and rights are checked as documented."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")

from memoryspace import MemorySpace
from memoryspace.server import KeyRing
from server_fixtures import served

Keys = dict[str, str]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MemorySpace, str, Keys]]:
    with served(tmp_path_factory.mktemp("structures") / "s.db") as (space, url):
        ring = KeyRing(space.store)
        tokens = {
            name: ring.create(namespaces, rights)[1]
            for name, namespaces, rights in (
                ("alice", ["user:alice"], ["read", "write"]),
                ("bob", ["user:bob"], ["read", "write"]),
                ("reader", ["user:alice"], ["read"]),
                ("admin", ["*"], ["admin"]),
            )
        }
        yield space, url, tokens


def http(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_notes_link_search_show_and_history(keyed: tuple[MemorySpace, str, Keys]) -> None:
    space, url, tokens = keyed
    with http(url, tokens["alice"]) as alice:
        made = alice.post("/notes", json={"content": "Alice grows tomatoes on her balcony"})
        assert made.status_code == 201
        first = made.json()
        assert first["user"] == "alice" and first["kind"] == "note"  # placed in her namespace
        second = alice.post(
            "/notes",
            json={"content": "Balcony tomatoes need water twice a day", "links": [first["id"]]},
        ).json()
        assert first["id"] in [link["id"] for link in second["links"]]
        hits = alice.post(
            "/notes/search",
            json={"query": "water twice a day", "k": 2, "expand": 1, "min_score": 0.3},
        ).json()
        assert hits[0]["memory"]["id"] == second["id"]
        via = {hit["memory"]["id"]: hit["parts"]["via"] for hit in hits}
        assert via.get(first["id"]) == second["id"]

        linked = alice.post(
            f"/notes/{first['id']}/links", json={"target": second["id"], "type": "supports"}
        )
        assert linked.status_code == 200
        assert {"id": second["id"], "type": "supports", "strong": True} in linked.json()["links"]
        shown = alice.get(f"/notes/{first['id']}").json()
        assert [link["content"] for link in shown["links"]] == [
            "Balcony tomatoes need water twice a day"
        ]
        assert shown["history"][0]["op"] == "add"
        assert shown["history"][-1]["actor"] == "notes"
        gone = alice.delete(f"/notes/{first['id']}/links/{second['id']}")
        assert gone.status_code == 200 and gone.json()["links"] == []
        assert alice.delete(f"/notes/{first['id']}/links/{second['id']}").status_code == 404
    assert space.get(first["id"]).links == ()


def test_a_note_of_another_namespace_answers_like_a_missing_one(
    keyed: tuple[MemorySpace, str, Keys],
) -> None:
    space, url, tokens = keyed
    with http(url, tokens["bob"]) as bob:
        secret = bob.post("/notes", json={"content": "Bob hides the spare key under the mat"})
        secret_id = secret.json()["id"]
    fake = "0" * len(secret_id)
    with http(url, tokens["alice"]) as alice:
        mine = alice.post("/notes", json={"content": "Alice keeps her spare key at work"}).json()
        for method, path, body in (
            ("GET", "/notes/{id}", None),
            ("POST", "/notes/{id}/links", {"target": mine["id"]}),
            ("DELETE", "/notes/{id}/links/" + mine["id"], None),
            ("POST", f"/notes/{mine['id']}/links", {"target": "{id}"}),
            ("POST", "/notes", {"content": "linked", "links": ["{id}"]}),
        ):
            answers = []
            for id in (secret_id, fake):
                filled = None if body is None else json.loads(json.dumps(body).replace("{id}", id))
                answer = alice.request(method, path.replace("{id}", id), json=filled)
                answers.append((answer.status_code, answer.text.replace(id, "ID")))
            assert answers[0] == answers[1] and answers[0][0] == 404, (method, path)
        found = alice.post("/notes/search", json={"query": "spare key", "min_score": 0}).json()
        assert found and all(hit["memory"]["user"] == "alice" for hit in found)
        asked = {"query": "spare key", "user": "bob", "min_score": 0}
        assert alice.post("/notes/search", json=asked).json() == []
    with http(url, tokens["admin"]) as admin:  # an admin links alice's note to bob's
        assert admin.post(f"/notes/{mine['id']}/links", json={"target": secret_id}).is_success
    with http(url, tokens["alice"]) as alice:
        shown = alice.get(f"/notes/{mine['id']}").json()
    assert [(link["id"], link["content"]) for link in shown["links"]] == [(secret_id, None)]
    assert space.get(secret_id).content == "Bob hides the spare key under the mat"


def test_reflect_rights_dry_run_and_apply(keyed: tuple[MemorySpace, str, Keys]) -> None:
    space, url, tokens = keyed
    with http(url, tokens["alice"]) as alice:
        old = alice.post("/memories", json={"content": "My car is a red Volvo", "kind": "fact"})
        alice.post("/memories", json={"content": "My car is a blue Tesla", "kind": "fact"})
    old_id = old.json()["id"]
    with http(url, tokens["reader"]) as reader:
        plan = reader.post("/reflect", json={"dry_run": True})
        assert plan.status_code == 200 and plan.json()["dry_run"] is True
        assert any(old_id in group["ids"] for group in plan.json()["plan"])
        refused = reader.post("/reflect", json={})
        assert refused.status_code == 403 and "'write' right" in refused.json()["error"]["message"]
    assert space.get(old_id).valid_to is None
    with http(url, tokens["alice"]) as alice:
        whole = alice.post("/reflect", json={"user": "bob"})
        assert whole.status_code == 403
        applied = alice.post("/reflect", json={"user": "alice"}).json()
    assert applied["dry_run"] is False and applied["applied"] >= 1
    assert space.get(old_id).valid_to is not None
    assert applied["lsn_after"] > applied["lsn_before"]
    with http(url, tokens["alice"]) as alice:
        assert alice.post("/reflect", json={"user": None, "agent": None}).status_code == 200
    with http(url, tokens["bob"]) as bob:
        assert bob.post("/reflect", json={"user": "alice", "dry_run": True}).status_code == 403
    with http(url, tokens["admin"]) as admin:
        everything = admin.post("/reflect", json={"dry_run": True})
        assert everything.status_code == 200 and everything.json()["lsn_after"] == space.lsn


def test_read_a_posted_text_and_store_it_in_the_callers_namespace(
    keyed: tuple[MemorySpace, str, Keys],
) -> None:
    space, url, tokens = keyed
    filler = " ".join(f"Line {n} is about nothing in particular." for n in range(300))
    text = f"{filler} The ferry leaves from pier 9 at noon. {filler}"
    body = {"text": text, "question": "Where does the ferry leave from?", "memory_tokens": 64}
    with http(url, tokens["reader"]) as reader:
        read = reader.post("/read", json=body)
        assert read.status_code == 200
        assert "pier 9" in read.json()["memory"] and read.json()["totals"]["chunks"] >= 2
        assert read.json()["records"] == []
        assert reader.post("/read", json={**body, "store": True}).status_code == 403
    with http(url, tokens["alice"]) as alice:
        stored = alice.post("/read", json={**body, "store": True}).json()
        assert alice.post("/read", json={**body, "store": True, "user": "bob"}).status_code == 403
    saved = space.get_many(stored["records"])
    assert saved and {m.user for m in saved} == {"alice"}
    assert any("pier 9" in m.content for m in saved)
