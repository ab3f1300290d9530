"""The dashboard's page and assets, its two read routes (scoped like every route), and /docs
served from local files: a real server on 127.0.0.1 over a real SQLite file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from memoryspace import MemorySpace
from memoryspace.server import KeyRing, ServerThread
from memoryspace.server.ui import ASSETS

REMOTE_URL = re.compile(
    r"""(?:src|href)=["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//|https?://(?!www\.w3\.org/2000/svg)"""
)


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[MemorySpace, str, dict[str, str]]]:
    with MemorySpace.open(tmp_path / "ui.db", embedder="hashing") as space:
        ring = KeyRing(space.store)
        tokens = {
            "admin": ring.create(["*"], ["admin"])[1],
            "alice": ring.create(["user:alice"], ["read", "write"])[1],
            "writer": ring.create(["user:alice"], ["write"])[1],
            "two": ring.create(["user:alice", "user:bob"], ["read"])[1],
        }
        with ServerThread(space) as server:
            yield space, server.url, tokens


def client(url: str, token: str | None = None) -> httpx.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=url, headers=headers, timeout=10)


def test_the_page_and_every_asset_it_loads_are_served_locally(tmp_path: Path) -> None:
    with (
        MemorySpace.open(tmp_path / "ui.db", embedder="hashing") as space,
        ServerThread(space) as server,
        client(server.url) as http,
    ):
        page = http.get("/ui")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert http.get("/ui/", follow_redirects=True).text == page.text
        wanted = re.findall(r'(?:src|href)="(ui/assets/[^"]+)"', page.text)
        modules = {p.name for p in ASSETS.glob("*.js")}
        for name in modules:  # the modules app.js pulls in by relative import
            wanted += [
                f"ui/assets/{m}"
                for m in re.findall(r'from "\./([^"]+)"', (ASSETS / name).read_text())
            ]
        assert {"ui/assets/app.js", "ui/assets/style.css", "ui/assets/search.js"} <= set(wanted)
        for path in set(wanted):
            asset = http.get(f"/{path}")
            assert asset.status_code == 200, path
            if path.endswith(".js"):
                assert "javascript" in asset.headers["content-type"]
        for asset in ASSETS.iterdir():
            assert not REMOTE_URL.search(asset.read_text()), f"{asset.name} loads from the network"
        assert http.get("/ui/assets/missing.js").status_code == 404


def test_docs_are_served_from_local_files_and_redoc_is_off(tmp_path: Path) -> None:
    pytest.importorskip("swagger_ui_bundle", reason="swagger-ui-bundle-v2 (server extra) missing")
    with (
        MemorySpace.open(tmp_path / "ui.db", embedder="hashing") as space,
        ServerThread(space) as server,
        client(server.url) as http,
    ):
        docs = http.get("/docs")
        assert docs.status_code == 200
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", docs.text)
        assert "openapi.json" in urls
        assert urls and not [u for u in urls if "//" in u], urls  # nothing from another host
        for url in urls:
            assert http.get(f"/{url}").status_code == 200, url
        assert http.get("/openapi.json").json()["info"]["title"] == "MemorySpace"
        assert http.get("/redoc").status_code == 404
        assert "/ui/api/graph" in http.get("/openapi.json").json()["paths"]


def test_session_says_what_the_key_may_do(keyed: tuple[MemorySpace, str, dict[str, str]]) -> None:
    _, url, tokens = keyed
    with client(url) as anonymous:
        assert anonymous.get("/ui/api/session").status_code == 401
        assert anonymous.get("/ui").status_code == 200  # the page itself asks for the key
    with client(url, tokens["alice"]) as alice:
        session = alice.get("/ui/api/session").json()
    assert session["namespaces"] == ["user:alice"]
    assert session["rights"] == ["read", "write"]
    assert session["whole_space"] is False
    assert session["keys_configured"] is True
    with client(url, tokens["admin"]) as admin:
        assert admin.get("/ui/api/session").json()["whole_space"] is True
    with client(url, tokens["writer"]) as writer:
        refused = writer.get("/ui/api/session")
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "Forbidden"


def test_the_graph_shows_only_links_between_memories_the_key_sees(
    keyed: tuple[MemorySpace, str, dict[str, str]],
) -> None:
    space, url, tokens = keyed
    secret = space.add("bob's secret plan", user="bob", kind="fact")
    tea = space.add("alice drinks green tea", user="alice", kind="fact")
    note = space.add(
        "note: alice's habits",
        user="alice",
        kind="note",
        links=[{"id": tea.id, "type": "supports"}, {"id": secret.id, "type": "related"}],
    )
    with client(url, tokens["alice"]) as alice:
        graph = alice.get("/ui/api/graph").json()
        notes = alice.get("/ui/api/graph", params={"kind": "note"}).json()
        assert alice.get("/ui/api/graph", params={"limit": 0}).status_code == 422
    assert {n["id"] for n in graph["nodes"]} == {tea.id, note.id}
    assert graph["edges"] == [
        {"source": note.id, "target": tea.id, "type": "supports", "strong": True}
    ]
    assert graph["truncated"] is False
    assert [n["id"] for n in notes["nodes"]] == [note.id]
    assert notes["edges"] == []  # the evidence is not a note, so not listed
    with client(url, tokens["two"]) as two:
        unnamed = two.get("/ui/api/graph")
        named = two.get("/ui/api/graph", params={"user": "bob"}).json()
        elsewhere = two.get("/ui/api/graph", params={"user": "carol"}).json()
    assert unnamed.status_code == 422  # several namespaces: name one
    assert "name one" in unnamed.json()["error"]["message"]
    assert [n["id"] for n in named["nodes"]] == [secret.id]
    assert elsewhere == {"nodes": [], "edges": [], "truncated": False}
    with client(url, tokens["admin"]) as admin:
        everything = admin.get("/ui/api/graph", params={"limit": 2}).json()
        bobs = admin.get("/ui/api/graph", params={"user": "bob"}).json()
    assert [n["id"] for n in bobs["nodes"]] == [secret.id]
    assert everything["truncated"] is True
    assert [n["id"] for n in everything["nodes"]] == [note.id, tea.id]  # newest first
    team = space.add("the team's plan", user="team-red", kind="plan")
    prefix = KeyRing(space.store).create(["user:team-*"], ["read"])[1]
    with client(url, prefix) as teams:
        assert teams.get("/ui/api/graph").status_code == 422  # a prefix names no one scope
        red = teams.get("/ui/api/graph", params={"user": "team-red"}).json()
        session = teams.get("/ui/api/session").json()
    assert [n["id"] for n in red["nodes"]] == [team.id]
    assert session["namespaces"] == ["user:team-*"]


def test_the_wheel_carries_the_dashboard_assets(tmp_path: Path) -> None:
    """``pip wheel`` of the project (hatchling, as a user's install builds it) ships every file
    of ``server/ui/assets``."""
    root = Path(__file__).resolve().parents[1]
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0 and os.environ.get("CI") != "true":
        pytest.skip(
            f"pip could not build the wheel here (no package index?): {built.stderr[-300:]}"
        )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("memoryspace-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {Path(name).name for name in archive.namelist() if "/server/ui/assets/" in name}
    assert shipped == {p.name for p in ASSETS.iterdir()}


def test_windows_show_what_context_left_and_only_the_keys_own(
    keyed: tuple[MemorySpace, str, dict[str, str]],
) -> None:
    space, url, tokens = keyed
    for n in range(6):
        space.add(f"alice fact {n} about green tea", user="alice", kind="fact")
        space.add(f"bob fact {n} about black coffee", user="bob", kind="fact")
    made = space.context("green tea", budget=120, user="alice")
    space.context("black coffee", budget=200, user="bob")
    lsn = space.lsn
    with client(url, tokens["alice"]) as alice:
        (heap,) = alice.get("/ui/api/windows").json()
    with client(url, tokens["admin"]) as admin:
        every = admin.get("/ui/api/windows").json()
    assert space.lsn == lsn  # reading the windows changed nothing
    assert (heap["user"], heap["agent"], heap["session"], heap["budget"]) == (
        "alice",
        None,
        None,
        120,
    )
    placed = [slot["id"] for slot in heap["slots"] if slot["id"] is not None]
    assert placed == [i for block in made.blocks for i in block.source_ids]
    assert heap["used"] == sum(s["size"] for s in heap["slots"] if s["id"] is not None)
    assert (
        heap["used"] + heap["tail"] + sum(s["size"] for s in heap["slots"] if s["id"] is None)
        == 120
    )
    assert 0.0 <= heap["fragmentation"] <= 1.0
    assert sorted(h["user"] for h in every) == ["alice", "bob"]
