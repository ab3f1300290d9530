"""The commands of the first hour: --version, list, count, update, JSON errors, CLI hints,
clean help, bench data errors, the demo's clean-up, the cache and rounded figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "MEMORYSPACE_DB": str(tmp_path / "cli.db"),
        "MEMORYSPACE_EMBEDDER": "hashing",
        "MEMORYSPACE_CACHE": str(tmp_path / "cache"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "memoryspace", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
    )


def ok(tmp_path: Path, *args: str) -> Any:
    result = run(tmp_path, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_version_is_the_package_version(tmp_path: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    result = run(tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"memoryspace {project['project']['version']}\n"


def test_list_pages_count_filters_and_update_edits(tmp_path: Path) -> None:
    for n in range(5):
        ok(tmp_path, "add", f"fact number {n}", "--user", "ana", "--kind", "fact")
    ok(tmp_path, "add", "a turn of bo", "--user", "bo")
    again = ok(tmp_path, "add", "FACT number 0", "--user", "ana", "--kind", "fact")  # deduped
    said = run(tmp_path, "add", "fact  number 1", "--user", "ana", "--kind", "fact").stdout
    assert said.startswith("already held as ") and said.rstrip().endswith("(renewed)")
    first = ok(tmp_path, "list", "--user", "ana", "--limit", "2")
    second = ok(tmp_path, "list", "--user", "ana", "--limit", "2", "--offset", "2")
    newest = ok(tmp_path, "list", "--limit", "1", "--newest")
    assert [m["content"] for m in first + second] == [f"fact number {n}" for n in range(4)]
    assert again["id"] == first[0]["id"]
    assert newest[0]["content"] == "a turn of bo"
    assert ok(tmp_path, "count") == {"count": 6}
    assert ok(tmp_path, "count", "--kind", "turn") == {"count": 1}
    assert ok(tmp_path, "count", "--user", "ana", "--pinned") == {"count": 0}

    target = first[1]["id"]
    updated = ok(
        tmp_path,
        "update",
        target,
        "--content",
        "fact number one, corrected",
        "--tag",
        "a",
        "--tag",
        "b",
        "--importance",
        "0.9",
        "--pin",
    )
    assert (updated["content"], updated["tags"], updated["importance"], updated["pinned"]) == (
        "fact number one, corrected",
        ["a", "b"],
        0.9,
        True,
    )
    assert ok(tmp_path, "count", "--pinned") == {"count": 1}
    assert ok(tmp_path, "update", target, "--unpin", "--clear-tags")["tags"] == []
    history = ok(tmp_path, "history", target)  # added, renewed by the second add, edited twice
    assert [c["op"] for c in history] == ["add", "update", "update", "update"]
    assert history[1]["after"]["content"] == "fact number 1"
    human = run(tmp_path, "list", "--user", "ana", "--limit", "2")
    assert "showing 1-2 of 5; next page: --offset 2" in human.stderr


def test_errors_under_json_are_json_on_stdout(tmp_path: Path) -> None:
    ok(tmp_path, "add", "something")
    result = run(tmp_path, "get", "no-such-id", "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "NotFound"
    assert "memoryspace list" in error["message"]
    assert "Traceback" not in result.stderr
    nothing = run(tmp_path, "update", "no-such-id", "--json")
    assert nothing.returncode == 1
    assert json.loads(nothing.stdout)["error"]["type"] == "InvalidInput"
    usage = run(tmp_path, "list", "--limit", "many", "--json")
    assert usage.returncode == 2  # a usage error, as click reports them
    assert json.loads(usage.stdout)["error"]["type"] == "BadParameter"
    plain = run(tmp_path, "get", "no-such-id")
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr.startswith("error: NotFound: no memory with id 'no-such-id'")


def test_hints_speak_cli(tmp_path: Path) -> None:
    ok(tmp_path, "add", "something")
    ok(tmp_path, "checkpoint", "safe")
    taken = json.loads(run(tmp_path, "checkpoint", "safe", "--json").stdout)["error"]
    assert "--overwrite" in taken["message"] and "overwrite=True" not in taken["message"]
    missing = json.loads(run(tmp_path, "restore", "nope", "--json").stdout)["error"]
    assert "`memoryspace checkpoint`" in missing["message"]
    assert "checkpoints()" not in missing["message"]


def test_cli_message_rewrites_every_python_hint() -> None:
    from memoryspace.cli.hints import cli_message

    python = (
        "this database holds vectors of 'hashing-384-v1', not 'all-MiniLM-L6-v2'; open it with "
        "that embedder (e.g. embedder='minilm' or 'hashing')"
    )
    assert cli_message(python).endswith("(e.g. --embedder minilm or --embedder hashing)")
    assert cli_message("name a checkpoint, or give to_lsn to restore") == (
        "name a checkpoint, or give --to-lsn to restore"
    )
    assert "name=None" not in cli_message(
        "restore an older checkpoint or pass name=None to replay the log from the start"
    )


def all_commands() -> list[tuple[str, Any]]:
    from memoryspace.cli.app import app

    found: list[tuple[str, Any]] = []

    def walk(name: str, command: Any) -> None:  # typer vendors its own click
        found.append((name, command))
        if hasattr(command, "list_commands"):
            context = command.context_class(command)
            for sub in command.list_commands(context):
                child = command.get_command(context, sub)
                assert child is not None
                walk(f"{name} {sub}".strip(), child)

    walk("", typer.main.get_command(app))
    return found


def test_help_shows_flags_without_a_type_placeholder() -> None:
    from memoryspace.cli.app import app

    runner = CliRunner()
    commands = all_commands()
    assert len(commands) > 25
    for name, _ in commands:
        result = runner.invoke(app, [*name.split(), "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "<bool>" not in result.output, name
    update = runner.invoke(app, ["update", "--help"]).output
    assert re.search(r"--pin / --unpin\s+Pin it", update)
    assert re.search(r"--dry-run\s+Report only", runner.invoke(app, ["gc", "--help"]).output)


@pytest.mark.parametrize(
    ("command", "origin"),
    [
        (["bench", "locomo"], "snap-research/LoCoMo"),
        (["bench", "hotpot"], "hotpotqa.github.io"),
        (["bench", "longmemeval"], "xiaowu0162/LongMemEval"),
        (["bench", "tiered"], "snap-research/LoCoMo"),
        (["bench", "capacity"], "mattmahoney.net"),
        (["demo", "persona"], "MemoryBank-SiliconFriend"),
    ],
)
def test_missing_bench_data_names_the_file_and_its_source(
    tmp_path: Path, command: list[str], origin: str
) -> None:
    from memoryspace.cli.app import app
    from memoryspace.errors import InvalidInput

    missing = tmp_path / "nowhere" / "data.json"
    result = CliRunner().invoke(app, [*command, "--data", str(missing)])
    assert isinstance(result.exception, InvalidInput), result.output
    message = str(result.exception)
    assert str(missing) in message and "does not exist" in message
    assert origin in message and "--data" in message and "../shared/data/" in message


def test_bench_data_error_under_json(tmp_path: Path) -> None:
    result = run(tmp_path, "bench", "locomo", "--data", str(tmp_path), "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert "is a folder, not a file" in error["message"] and "locomo10.json" in error["message"]


def test_the_demo_cleans_up_unless_asked_to_keep(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"TMPDIR": str(temp), "TIKTOKEN_CACHE_DIR": ""}
    result = run(tmp_path, "demo", env=env)
    assert result.returncode == 0, result.stderr
    assert "questions had evidence in the top 5" in result.stdout
    assert list(temp.iterdir()) == []
    kept = run(tmp_path, "demo", "--keep", env=env)
    assert kept.returncode == 0, kept.stderr
    (folder,) = temp.iterdir()
    assert (folder / "demo.db").is_file()
    assert "The database stays at" in " ".join(kept.stdout.split())


def test_cache_info_and_clear_touch_only_our_files(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    ours = [
        cache / "minilm-l6-v2-g2-90868376-1796174251146141696.onnx",
        cache / "embeddings.sqlite",
        cache / "embeddings.sqlite-wal",
    ]
    for path in ours:
        path.write_bytes(b"x" * 1000)
    theirs = cache / "notes.txt"
    theirs.write_text("not ours")
    info = ok(tmp_path, "cache", "info")
    assert info["path"] == str(cache) and info["bytes"] == 3000
    assert sorted(f["path"] for f in info["files"]) == sorted(map(str, ours))
    cleared = ok(tmp_path, "cache", "clear")
    assert sorted(cleared["removed"]) == sorted(map(str, ours)) and cleared["bytes"] == 3000
    assert list(cache.iterdir()) == [theirs]


def test_stats_rounds_figures_for_people_but_not_for_scripts(tmp_path: Path) -> None:
    profile = tmp_path / "events.jsonl"
    events = [
        {"ts": 1.0, "event": "retrieval", "duration": 0.000123456789},
        {"ts": 2.0, "event": "retrieval", "duration": 0.000234567891},
    ]
    profile.write_text("".join(json.dumps(e) + "\n" for e in events))
    ok(tmp_path, "add", "something")
    human = run(tmp_path, "stats", "--profile", str(profile))
    assert human.returncode == 0, human.stderr
    assert re.findall(r"\d\.\d{7,}", human.stdout) == []
    assert "0.000358" in human.stdout  # the total, 3 significant digits
    exact = ok(tmp_path, "stats", "--profile", str(profile))
    assert exact["profile"]["retrieval"]["total_duration"] == pytest.approx(0.000358024680)


def test_rounded_keeps_what_is_not_a_float() -> None:
    from memoryspace.cli.figures import rounded

    assert rounded({"a": [1.23456, 0.000123456], "b": True, "c": 7, "d": "x", "e": 0.0}) == {
        "a": [1.235, 0.000123],
        "b": True,
        "c": 7,
        "d": "x",
        "e": 0.0,
    }


def test_the_app_holds_every_command_without_importing_the_command_modules() -> None:
    """``memoryspace.cli.app.app`` adds each module's sub-app itself: a fresh process that
    imports only it sees the commands of every module, the `bench` ones from four modules."""
    listing = (
        "import typer\n"
        "from memoryspace.cli.app import app\n"
        "def walk(name, command):\n"
        "    print(name)\n"
        "    for sub, child in getattr(command, 'commands', {}).items():\n"
        "        walk(f'{name} {sub}'.strip(), child)\n"
        "walk('', typer.main.get_command(app))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, check=True, timeout=120
    )
    names = set(done.stdout.splitlines())
    assert {
        "add",  # cli/app.py
        "list",  # cli/browse.py
        "read",  # cli/read.py
        "bench scale",  # cli/bench.py
        "bench knowledge-update",  # cli/notes.py
        "bench serve",  # cli/server.py
        "bench prompt-budget",  # cli/prompt_budget.py
        "config set",  # cli/config.py
        "conversation add-turn",  # cli/conversation.py
        "demo persona",  # cli/demo.py
        "cache clear",  # cli/housekeeping.py
        "mcp",  # cli/mcp.py
        "migrate",  # cli/migrate.py
        "notes link",  # cli/notes.py
        "reflect",  # cli/notes.py
        "reembed",  # cli/reembed.py
        "serve",  # cli/server.py
        "keys revoke",  # cli/server.py
    } <= names
