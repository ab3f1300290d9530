"""``memoryspace demo`` (or ``python -m memoryspace.demo``): the tour ``make demo`` runs.

Ingests the bundled conversation (two invented friends, seven dated sessions), asks it questions,
edits a memory and shows its history, takes a checkpoint, forgets something, restores it, and
prints the space's stats. Runs offline with the local all-MiniLM-L6-v2 model when installed.
The database lives in a temporary folder that is removed at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from memoryspace import MemorySpace

console = Console()


def load_sample() -> dict[str, Any]:
    text = (files("memoryspace.demo") / "sample_conversation.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def ingest(ms: MemorySpace, sample: dict[str, Any]) -> dict[tuple[int, int], str]:
    """Every turn as a memory; returns (session, turn index) → memory id."""
    ids: dict[tuple[int, int], str] = {}
    total = sum(len(s["turns"]) for s in sample["sessions"])
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("ingesting the sample conversation", total=total)
        for session in sample["sessions"]:
            stamp = datetime.fromisoformat(session["date"]).timestamp()
            items = [
                {
                    "content": f"{turn['speaker']}: {turn['text']}",
                    "user": "demo",
                    "session": f"session-{session['id']}",
                    "timestamp": stamp + index * 60,
                    "meta": {"speaker": turn["speaker"], "session": session["id"], "turn": index},
                }
                for index, turn in enumerate(session["turns"])
            ]
            for (index, _), memory in zip(enumerate(items), ms.add_many(items), strict=True):
                ids[(session["id"], index)] = memory.id
            progress.advance(task, len(items))
    return ids


def ask(ms: MemorySpace, sample: dict[str, Any], ids: dict[tuple[int, int], str]) -> None:
    found = 0
    questions = sample["questions"][:6]
    for item in questions:
        hits = ms.search(item["question"], k=5, user="demo")
        evidence = {ids[(s, t)] for s, t in item["evidence"]}
        table = Table(
            title=f"Q: {item['question']}  (answer: {item['answer']})", title_justify="left"
        )
        for column in ("#", "score", "dense", "bm25", "evidence", "memory"):
            table.add_column(column)
        for rank, hit in enumerate(hits, 1):
            parts = hit.parts
            table.add_row(
                str(rank),
                f"{hit.score:.4f}",
                "-" if parts.dense is None else f"{parts.dense:.2f}",
                "-" if parts.sparse is None else f"{parts.sparse:.1f}",
                "[green]yes[/]" if hit.memory.id in evidence else "",
                hit.memory.content[:90],
            )
        found += any(hit.memory.id in evidence for hit in hits)
        console.print(table)
    console.print(f"[bold]{found} of {len(questions)} questions had evidence in the top 5.[/]\n")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m memoryspace.demo [--keep]``."""
    args = sys.argv[1:] if argv is None else list(argv)
    run(keep="--keep" in args)


def run(*, keep: bool = False, embedder: str = "auto") -> Path | None:
    """The whole tour in a fresh temporary folder; returns the database path when ``keep``,
    else removes the folder (whatever happens) and returns None."""
    folder = Path(tempfile.mkdtemp(prefix="memoryspace-demo-"))
    try:
        path = tour(folder / "demo.db", embedder)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if keep:
        console.print(
            f"\nThe database stays at {path}; try:  memoryspace search 'cello teacher' --db {path}"
        )
        return path
    console.print(f"\nRemoved {folder} (run with --keep to keep the database).")
    return None


def tour(path: Path, embedder: str) -> Path:
    """Run the tour on a new database at ``path``."""
    sample = load_sample()
    console.rule("[bold]MemorySpace demo")
    console.print(f"database: {path}")
    started = time.perf_counter()
    with MemorySpace.open(path, embedder=embedder) as ms:
        console.print(f"embedder: {ms.embedder.model_id} ({ms.embedder.dimension} dimensions)")
        ids = ingest(ms, sample)
        elapsed = time.perf_counter() - started
        console.print(f"{len(ids)} turns stored in {elapsed:.1f}s\n")

        console.rule("Search: hybrid dense + BM25, scores explained")
        ask(ms, sample, ids)

        console.rule("Edit a memory, then read its history from the operation log")
        first = sample["questions"][0]
        target = ms.get(ids[tuple(first["evidence"][0])])
        ms.update(target.id, tags=["pet"], importance=0.9)
        ms.pin(target.id)
        console.print(f"memory {target.id}: {target.content[:70]}")
        for change in ms.history(target.id):
            after = change.after
            console.print(
                f"  LSN {change.lsn:>4}  {change.op:<6}  pinned={after.pinned if after else '-'}"
                f"  tags={list(after.tags) if after else '-'}  importance="
                f"{after.importance if after else '-'}"
            )

        console.rule("Checkpoint, forget, restore")

        question = "What did Tobi play at Hanna's wedding?"

        def from_session_7() -> int:
            hits = ms.search(question, k=5, user="demo")
            return sum(hit.memory.session == "session-7" for hit in hits)

        console.print(f"Q: {question}")
        console.print(f"  hits from session 7 in the top 5: {from_session_7()}")
        checkpoint = ms.checkpoint("before-forgetting")
        console.print(f"  checkpoint {checkpoint.name!r} at LSN {checkpoint.lsn}")
        forgotten = ms.forget(user="demo", session="session-7")
        console.print(f"  forgot session 7 ({len(forgotten)} memories): {from_session_7()}")
        restored = ms.restore("before-forgetting")
        console.print(
            f"  restored it with {len(restored)} logged changes, now at LSN {ms.lsn}: "
            f"{from_session_7()}\n"
        )

        console.rule("A prompt-ready context within 250 tokens (pinned memories first)")
        assembled = ms.context("What does Tobi play?", budget=250, k=10, user="demo")
        console.print(assembled.text.strip())
        console.print(
            f"[dim]{assembled.tokens} of 250 tokens, {len(assembled.blocks)} memories, "
            f"{len(assembled.dropped)} hits left out[/]\n"
        )

        console.rule("Time travel: the space as it was at an earlier LSN")
        with ms.as_of(checkpoint.lsn - 2) as past:
            console.print(
                f"at LSN {checkpoint.lsn - 2}: pinned={past.get(target.id).pinned} "
                f"(now pinned={ms.get(target.id).pinned})\n"
            )

        console.rule("Stats")
        stats = ms.stats()
        for key in (
            "memories",
            "by_kind",
            "pinned",
            "lsn",
            "checkpoints",
            "database_bytes",
            "embedder",
            "index",
            "counters",
        ):
            console.print(f"  {key:>15}: {stats[key]}")
    return path


if __name__ == "__main__":
    main()
