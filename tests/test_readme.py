"""The README stays true: its quick start and its code fragments run as written, and its CLI
section names every command the CLI has."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from memoryspace import MemorySpace
from memoryspace.cli.app import app

README = Path(__file__).parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def block_with(text: str) -> str:
    (block,) = [b for b in python_blocks() if text in b]
    return block


def section(title: str) -> str:
    body = README.read_text().split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_every_cli_command_is_in_the_readme_cli_section() -> None:
    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    cli = section("CLI")
    missing = sorted(c for c in commands if not re.search(rf"(memoryspace|\|) {c}\b", cli))
    assert len(commands) > 20
    assert missing == [], f"README's CLI section does not show: {missing}"


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    code = python_blocks()[0]
    assert "MemorySpace.open" in code
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "Biscuit" in run.stdout  # Maren's dog, found
    assert "hazelnuts" not in run.stdout  # Tobi's memory: another user, never shown
    assert (tmp_path / "memory.db").exists()


def test_the_notes_and_purge_fragments_run_as_written(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "memory.db", embedder="hashing") as ms:
        exec(block_with("ms.notes("), {"ms": ms})
        notes = list(ms.scan(user="maren", kind="note"))
        assert len(notes) == 2
        hotel = next(note for note in notes if "Kyoto" in note.content)
        trip = next(note for note in notes if "April" in note.content)
        assert trip.id in {link.id for link in hotel.links}  # linked by id, as the README says

        ms.add("Ana's passport number is X1234", user="ana", kind="fact")
        namespace: dict[str, Any] = {"ms": ms}
        exec(block_with("ms.purge("), namespace)
        assert namespace["report"].records == 1
        assert ms.count(user="ana") == 0
        assert ms.count(user="maren") == 2
