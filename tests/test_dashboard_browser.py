"""The dashboard in a real browser: Debian's chromium driven by Playwright (never Playwright's
own browser download) against a real server on 127.0.0.1 over a real SQLite file.

Without chromium the test skips, except under ``CI=true`` where it fails: ``make test``
installs chromium there. Screenshots of each step are saved under the test's tmp_path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from memoryspace import MemorySpace
from memoryspace.errors import NotFound
from memoryspace.server import KeyRing, ServerThread

IN_CI = os.environ.get("CI") == "true"
WAIT_MS = 15_000


def need(reason: str) -> None:
    """Skip for want of a browser part, or fail under CI, where the Makefile installs it."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: `make test` should have installed it)")
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("playwright is not installed: pip install -e '.[dev]'")
    executable = shutil.which("chromium")
    if executable is None:
        need("Debian's chromium is not installed: apt-get install chromium")
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)  # two shared cores: give slow steps room
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()  # before the server stops: no change feed left open


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, MemorySpace, str, dict[str, str]]]:
    db = tmp_path / "dashboard.db"
    with MemorySpace.open(db, embedder="hashing") as space:
        ring = KeyRing(space.store)
        tokens = {
            "admin": ring.create(["*"], ["admin"])[1],
            "agent": ring.create(["user:alice"], ["read", "write"])[1],
        }
        tea = space.add("Alice drinks green tea every morning", user="alice", kind="fact")
        space.add("Alice ordered green tea at the airport", user="alice", kind="fact")
        space.add("Bob prefers black coffee", user="bob", kind="fact")
        space.add(
            "note: Alice likes green tea",
            user="alice",
            kind="note",
            links=[{"id": tea.id, "type": "supports"}],
        )
        with ServerThread(space) as server:
            yield db, space, server.url, tokens


def stored(db: Path, id: str) -> Any:
    """The memory as a second, independent open of the database file sees it (None: gone)."""
    with MemorySpace.open(db, embedder="hashing") as fresh:
        try:
            return fresh.get(id)
        except NotFound:
            return None


def test_search_pin_edit_forget_undo_and_live_updates(
    served: tuple[Path, MemorySpace, str, dict[str, str]], browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    db, space, url, tokens = served
    agent_headers = {"Authorization": f"Bearer {tokens['agent']}"}  # another client's key
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    elsewhere: list[str] = []

    def local_only(route: Any) -> None:  # every asset must come from the server itself
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console(message: Any) -> None:  # CSP refusals land here; a 401 before the key does too
        if message.type == "error" and "Failed to load resource" not in message.text:
            errors.append(message.text)

    page.on("console", console)

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    # Keys are configured: the page asks for one, then works with it.
    page.goto(f"{url}/ui")
    expect(page.locator("#notice")).to_contain_text("API key")
    shot("1-needs-key")
    page.fill("#key", tokens["admin"])
    page.click("#key-form button[type=submit]")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.get_by_test_id("who")).to_contain_text("admin on *")
    expect(page.get_by_test_id("card-memories").locator(".card-value")).to_have_text("4")
    expect(page.locator("#graph line.edge[data-type=supports]")).to_have_count(1)

    # Search shows the hits with their score parts.
    page.fill("#query", "green tea")
    page.click("#search-form button")
    hits = page.locator("#results li.hit")
    expect(hits.first).to_be_visible(timeout=WAIT_MS)
    ids = hits.evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert len(ids) >= 3
    expect(hits.first.locator(".part[data-part=BM25]")).to_be_visible()
    shot("2-search")

    # Pin the best hit: the page and the database agree.
    first, second = ids[0], ids[1]
    row = page.locator(f'#results li[data-id="{first}"]')
    row.locator("button.pin-toggle").click()
    expect(row.locator(".badge.pin")).to_be_visible()
    expect(row.locator("button.pin-toggle")).to_have_text("Unpin")
    assert stored(db, first).pinned

    # Edit it (a patch with if_version).
    row.locator("button.edit").click()
    row.locator("textarea.edit-content").fill("Alice drinks green tea, no sugar")
    row.locator("button.save").click()
    expect(row.locator(".content")).to_have_text("Alice drinks green tea, no sugar")
    assert stored(db, first).content == "Alice drinks green tea, no sugar"
    assert stored(db, first).pinned

    # An edit that started before another client's change is refused, not written over it.
    row.locator("button.edit").click()
    row.locator("textarea.edit-content").fill("Alice drinks green tea with honey")
    with httpx.Client(base_url=url, headers=agent_headers, timeout=10) as agent:
        assert agent.patch(
            f"/memories/{first}", json={"content": "Alice drinks mint tea"}
        ).is_success
    expect(page.locator(f'#timeline li[data-op=update][data-id="{first}"]')).to_have_count(3)
    row.locator("button.save").click()
    expect(page.locator("#notice")).to_contain_text("changed this memory meanwhile")
    expect(row.locator(".content")).to_have_text("Alice drinks mint tea")
    assert stored(db, first).content == "Alice drinks mint tea"

    # Forget the second hit: gone from the page and the database, logged in the timeline.
    page.locator(f'#results li[data-id="{second}"] button.forget').click()
    expect(page.locator(f'#results li[data-id="{second}"]')).to_have_count(0)
    assert stored(db, second) is None
    deleted = page.locator(f'#timeline li[data-op=delete][data-id="{second}"]')
    expect(deleted).to_have_count(1)
    shot("3-pinned-edited-forgotten")

    # Another client writes through the REST API with its own key: the page sees it live.
    with httpx.Client(base_url=url, headers=agent_headers, timeout=10) as agent:
        added = agent.post("/memories", json={"content": "a live note from another agent"})
        assert added.status_code == 201
        live_id = added.json()["id"]
        context = agent.post("/context", json={"query": "green tea", "budget": 300})
        assert context.status_code == 200
    expect(page.locator(f'#timeline li[data-op=add][data-id="{live_id}"]')).to_contain_text(
        "a live note from another agent"
    )
    memories = page.get_by_test_id("card-memories").locator(".card-value")
    expect(memories).to_have_text(str(space.stats()["memories"]))
    # The agent's context call laid out alice's window: the heap panel shows it (polled).
    window = page.get_by_test_id("heap-window").filter(has_text="user:alice")
    expect(window.get_by_test_id("heap-summary")).to_contain_text(
        f"{context.json()['tokens']} of 300 tokens"
    )
    placed = window.locator("rect.heap-slot").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert set(placed) == {i for b in context.json()["blocks"] for i in b["source_ids"]}
    shot("4-live-update")

    # Insert from the page.
    page.fill("#insert-content", "Alice is flying to Lisbon on Friday")
    page.fill("#insert-user", "alice")
    page.click("#insert-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("stored ")
    inserted = page.locator("#notice").inner_text().split()[-1]
    assert stored(db, inserted).content == "Alice is flying to Lisbon on Friday"

    # Undo the forget as admin: restore to the LSN before the delete.
    deleted.locator("button.undo").click()
    expect(page.locator("#notice")).to_contain_text("changes logged")
    assert stored(db, second) is not None

    # forget(query, k) with its preview: the dry run deletes nothing, the confirmation does.
    bob = next(m.id for m in space.scan(user="bob"))
    page.fill("#query", "black coffee")
    page.fill("#k", "1")
    page.click("#forget-preview")
    expect(page.get_by_test_id("forget-plan")).to_contain_text(f"would delete 1: {bob}")
    assert stored(db, bob) is not None
    page.click("#forget-plan button.confirm")
    expect(page.locator("#notice")).to_contain_text("forgot 1")
    assert stored(db, bob) is None

    # The context heap and a collection.
    page.fill("#heap-query", "green tea")
    page.click("#heap-form button")
    expect(page.get_by_test_id("heap-summary")).to_contain_text("fragmentation")
    page.click("#gc-run")
    expect(page.get_by_test_id("gc-last")).to_contain_text("generational")
    shot("5-heap-gc-undo")

    assert not elsewhere, f"the page reached beyond the server: {elsewhere}"
    assert not errors, errors
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-needs-key.png",
        "2-search.png",
        "3-pinned-edited-forgotten.png",
        "4-live-update.png",
        "5-heap-gc-undo.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in shots.iterdir())


def test_a_namespaced_key_sees_only_its_namespace(
    served: tuple[Path, MemorySpace, str, dict[str, str]], browser: Any
) -> None:
    from playwright.sync_api import expect

    _, _, url, tokens = served
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/ui")
    page.fill("#key", tokens["agent"])
    page.click("#key-form button[type=submit]")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.get_by_test_id("who")).to_contain_text("read, write on user:alice")
    page.fill("#query", "coffee")
    page.click("#search-form button")
    expect(page.locator("#results li")).not_to_have_count(0)
    assert "Bob" not in page.locator("#results").inner_text()
    expect(page.locator("#graph-panel")).not_to_contain_text("Bob")
    assert not page.locator("#timeline-panel .admin-only").is_visible()  # no undo, no checkpoints
    assert page.locator("#timeline button.undo").count() == 0


def test_a_key_with_two_namespaces_works_in_the_scope_it_picks(
    served: tuple[Path, MemorySpace, str, dict[str, str]], browser: Any
) -> None:
    from playwright.sync_api import expect

    _, space, url, _ = served
    token = KeyRing(space.store).create(["user:alice", "user:bob"], ["read", "write"])[1]
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{url}/ui")
    page.fill("#key", token)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#scope")).to_have_value("user:alice")  # one must be named: the first
    expect(page.get_by_test_id("card-memories").locator(".card-value")).to_have_text("3")
    page.fill("#query", "green tea coffee")
    page.click("#search-form button")
    expect(page.locator("#results li.hit")).not_to_have_count(0)
    assert "Bob" not in page.locator("#results").inner_text()
    page.fill("#scope", "user:bob")
    page.dispatch_event("#scope", "change")
    expect(page.get_by_test_id("card-memories").locator(".card-value")).to_have_text("1")
    page.fill("#query", "coffee")
    page.click("#search-form button")
    expect(page.locator("#results li.hit").first).to_contain_text("Bob prefers black coffee")
    page.fill("#insert-content", "Bob switched to green tea")
    page.click("#insert-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("stored ")
    inserted = page.locator("#notice").inner_text().split()[-1]
    assert space.get(inserted).user == "bob"  # the scope placed it
