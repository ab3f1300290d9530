"""``POST /purge`` on a real server over loopback: the admin right, inside the key's namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")

import httpx

from memoryspace import Op
from memoryspace.server import KeyRing
from server_fixtures import served


def test_purge_needs_admin_inside_the_keys_namespaces(tmp_path: Path) -> None:
    with served(tmp_path / "m.db") as (space, url):
        ring = KeyRing(space.store)
        tokens = {
            name: ring.create(namespaces, rights)[1]
            for name, namespaces, rights in (
                ("alice", ["user:alice"], ["read", "write"]),
                ("alice_admin", ["user:alice"], ["admin"]),
                ("admin", ["*"], ["admin"]),
            )
        }
        alice = [space.add(f"alice secret {i}", user="alice") for i in range(3)]
        space.delete(alice[2].id)
        bob = space.add("bob secret", user="bob")

        def post(token: str, body: dict[str, object]) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[token]}"}
            return httpx.post(f"{url}/purge", json=body, headers=headers, timeout=60)

        assert post("alice", {"user": "alice"}).status_code == 403  # write is not admin
        assert post("alice_admin", {"user": "bob"}).status_code == 403
        hidden = post("alice_admin", {"ids": [bob.id]})
        assert hidden.status_code == 404  # like a missing id
        assert space.get(bob.id).content == "bob secret"
        refused = post("alice_admin", {})  # no selector: refused, however narrow the key
        assert refused.status_code == 422 and "user=" in refused.text
        preview = post("alice_admin", {"user": "alice", "dry_run": True}).json()
        assert len(preview["ids"]) == 3 and space.store.count() == 3
        done = post("alice_admin", {"user": "alice"})
        assert done.status_code == 200, done.text
        report = done.json()
        assert set(report["ids"]) == {m.id for m in alice[:2]} | {alice[2].id}
        assert report["records"] == 2 and report["log_entries"] == 4
        assert space.history(alice[0].id)[-1].op is Op.PURGE
        assert space.history(alice[0].id)[-1].actor.startswith("key:")
        assert [m.id for m in space.scan()] == [bob.id]
        whole = post("admin", {"ids": [bob.id]})
        assert whole.status_code == 200 and whole.json()["ids"] == [bob.id]
        # the change feed and its SSE stream show tombstones and purge entries, no content
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        feed = httpx.get(f"{url}/changes", headers=admin, timeout=60)
        assert "purge" in [c["op"] for c in feed.json()] and "alice secret" not in feed.text
        events: list[str] = []
        with httpx.stream("GET", f"{url}/changes/stream", headers=admin, timeout=60) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(line)
                if len(events) == space.lsn:
                    break
        assert len(events) == space.lsn and not [e for e in events if "secret" in e]
