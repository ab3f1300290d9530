"""A user without an extra gets a one-line error that names the extra to install, never a
traceback; what needs no extra (API keys) works anyway. The extra is hidden from a real CLI
process by packages on its path that refuse to import, as a missing package would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SERVER = ("fastapi", "uvicorn", "starlette", "mcp")


def hiding(tmp_path: Path, names: tuple[str, ...]) -> dict[str, str]:
    """The environment of a process that cannot import ``names``."""
    shadow = tmp_path / "shadow"
    for name in names:
        (shadow / name).mkdir(parents=True)
        message = f"No module named {name!r}"
        (shadow / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError({message!r}, name={name!r})\n"
        )
    path = os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "MEMORYSPACE_EMBEDDER": "hashing"}


@pytest.fixture
def without_server_extra(tmp_path: Path) -> dict[str, str]:
    return hiding(tmp_path, SERVER)


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memoryspace", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [("serve",), ("mcp",), ("bench", "serve", "--records", "100", "--seconds", "1")],
)
def test_a_command_needing_the_server_extra_says_so(
    without_server_extra: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    done = run(
        without_server_extra, tmp_path, *args, *(() if args[0] == "bench" else ("--db", "m.db"))
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "pip install 'memoryspace[server]'" in done.stderr


def test_api_keys_need_no_server_extra(
    without_server_extra: dict[str, str], tmp_path: Path
) -> None:
    created = run(
        without_server_extra,
        tmp_path,
        "keys",
        "create",
        "--namespace",
        "user:ana",
        "--db",
        "m.db",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    listed = run(without_server_extra, tmp_path, "keys", "list", "--db", "m.db", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "user:ana" in listed.stdout


def test_a_benchmark_without_the_bench_extra_says_so_before_it_runs(tmp_path: Path) -> None:
    env = hiding(tmp_path, ("matplotlib",))
    data = tmp_path / "locomo.json"
    data.write_text("[]")
    done = run(env, tmp_path, "bench", "locomo", "--data", str(data), "--out", "out")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "pip install 'memoryspace[bench]'" in done.stderr
    assert not (tmp_path / "out").exists()  # refused before it ran
