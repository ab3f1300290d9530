"""Bytes per memory of a SQLite database, by table, through a life of adds, updates, deletes,
``vacuum`` and ``compact-log``; and the cost of reading the log (``history``, ``changes``).

Records are real LoCoMo turns (consecutive turns of a session joined to about 200 characters,
cycled to reach ``--n``), each with a 384-dimension float32 vector (random: the bytes a MiniLM
vector takes, which is all this measures). Stages: ``n`` adds; one importance update each;
35 % deleted; ``vacuum``; then, where the code has it, a checkpoint, ``compact-log`` up to it
and ``vacuum`` again. Sizes come from SQLite's ``dbstat`` (pages of each table with its
indexes) after a WAL checkpoint.

Only the store's long-standing API is used, so the same file measures an older MemorySpace
(``PYTHONPATH=/path/to/old/src python src/memoryspace/bench/logbytes.py``) for a before/after.

    python -m memoryspace.bench.logbytes --data ../shared/data/locomo/locomo_dev6.json \\
        --n 10000 --out docs/bench
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from memoryspace.datasets.locomo import load_locomo
from memoryspace.models import Memory
from memoryspace.store.sqlite import SQLiteStore

GROUPS = ("memories", "vectors", "oplog", "fts", "other")
DIMENSION = 384
console = Console(width=200)


def texts(path: Path, n: int) -> list[tuple[str, str, str]]:
    """``n`` (content, user, session) of about 200 characters from LoCoMo turns, cycled."""
    pieces: list[tuple[str, str, str]] = []
    for conversation in load_locomo(path):
        text, last_session = "", None
        for turn in conversation.turns:
            if last_session is not None and turn.session != last_session and text:
                pieces.append((text, conversation.sample_id, str(last_session)))
                text = ""
            text = f"{text} {turn.speaker}: {turn.text}".strip()
            last_session = turn.session
            if len(text) >= 180:
                pieces.append((text[:240], conversation.sample_id, str(turn.session)))
                text = ""
    return [pieces[i % len(pieces)] for i in range(n)]


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes of each group of tables (with their indexes), from ``dbstat``."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master"))
        out = dict.fromkeys(GROUPS, 0)
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            group = "fts" if table.startswith("memories_fts") else table
            out[group if group in out else "other"] += int(size)
    return out


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def vacuum(store: SQLiteStore, path: Path) -> None:
    """This code's ``vacuum`` when it has one, else what it does, by hand."""
    try:
        from memoryspace.store.vacuum import vacuum as store_vacuum
    except ImportError:
        store.flush()
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return
    store_vacuum(store)


def stages(path: Path, data: Path, n: int, seed: int) -> Iterator[tuple[str, int]]:
    """Run the life of the database, yielding (stage, live memories) after each step."""
    rng = np.random.default_rng(seed)
    records = texts(data, n)
    ids = [f"m{i}" for i in range(n)]
    with SQLiteStore(path) as store, Progress(console=console, transient=True) as progress:
        task = progress.add_task("adding", total=n)
        for start in range(0, n, 500):
            batch = []
            for i in range(start, min(start + 500, n)):
                content, user, session = records[i]
                now = 1_700_000_000.0 + i
                memory = Memory(
                    id=ids[i],
                    content=content,
                    user=user,
                    session=session,
                    created_at=now,
                    updated_at=now,
                    meta={"n": i},
                )
                batch.append((memory, rng.standard_normal(DIMENSION).astype(np.float32)))
            store.insert(batch)
            progress.update(task, completed=start + len(batch))
        yield "added", n
        task = progress.add_task("updating", total=n)
        for i, id in enumerate(ids):
            store.update(id, {"importance": round(float(rng.random()), 3), "updated_at": 2e9 + i})
            progress.update(task, completed=i + 1)
        yield "1 update each", n
        doomed = random.Random(seed).sample(ids, int(n * 0.35))
        for start in range(0, len(doomed), 500):
            store.delete(doomed[start : start + 500])
        yield "35% deleted", n - len(doomed)
        vacuum(store, path)
        yield "vacuumed", n - len(doomed)
        try:
            from memoryspace.store.compaction import compact_log
        except ImportError:
            return
        store.checkpoint("kept")
        compact_log(store, "kept")
        vacuum(store, path)
        yield "compact-log + vacuum", n - len(doomed)


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def read_costs(folder: Path, updates: int, feed: int) -> list[dict[str, Any]]:
    """Milliseconds to read a record's history of ``updates`` updates, and feeds of ``feed``
    entries (from the start, and starting in the middle of every record's chain)."""
    path = folder / "reads.db"
    with SQLiteStore(path) as store:
        store.insert([(Memory(id="hot", content="a record updated again and again"), None)])
        for i in range(updates):
            store.update("hot", {"importance": (i % 100) / 100, "tags": (f"t{i % 7}",)})
        store.insert([(Memory(id=f"r{i}", content=f"record {i}"), None) for i in range(feed)])
        for i in range(feed):
            store.update(f"r{i}", {"importance": 0.5})
        last = store.last_lsn()
        return [
            {"read": f"history() of {updates} updates", "ms": timed(lambda: store.history("hot"))},
            {
                "read": f"changes() feed of {feed} adds",
                "ms": timed(lambda: store.changes(updates + 1, limit=feed)),
            },
            {
                "read": f"changes() feed of {feed} updates",
                "ms": timed(lambda: store.changes(last - feed, limit=feed)),
            },
            {
                "read": "changes() of 10 mid-chain updates",
                "ms": timed(lambda: store.changes(updates // 2, limit=10)),
            },
        ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/locomo/locomo_dev6.json"))
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None, help="Folder for CSV and PNG.")
    parser.add_argument("--label", default="this code", help="Names the run in the CSV.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "space.db"
        for stage, live in stages(path, args.data, args.n, args.seed):
            groups = table_bytes(path)
            rows.append(
                {
                    "label": args.label,
                    "stage": stage,
                    "memories": live,
                    "file_bytes": file_bytes(path),
                    "bytes_per_memory": round(file_bytes(path) / live),
                    **{f"{g}_per_memory": round(b / live) for g, b in groups.items()},
                }
            )
        reads = read_costs(Path(folder), updates=1_000, feed=10_000)
    table = Table(*rows[0].keys(), title=f"disk per memory, {args.n:,} LoCoMo memories")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row.values()))
    console.print(table)
    timing = Table("read", "ms", title="reading the log")
    for read in reads:
        timing.add_row(read["read"], f"{read['ms']:.1f}")
    console.print(timing)
    if args.out is not None:
        write(args.out, rows, reads, args.label)


def write(out: Path, rows: list[dict[str, Any]], reads: list[dict[str, Any]], label: str) -> None:
    """Append the rows to ``log_bytes.csv`` and ``log_reads.csv`` in ``out`` and plot every
    label's stages as stacked bars (``log_bytes.png``)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (
        ("log_bytes.csv", rows),
        ("log_reads.csv", [{"label": label, **r} for r in reads]),
    ):
        target = out / name
        kept = []
        if target.exists():
            with target.open() as f:
                kept = [r for r in csv.DictReader(f) if r["label"] != label]
        with target.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(data[0].keys()))
            writer.writeheader()
            writer.writerows([*kept, *data])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with (out / "log_bytes.csv").open() as f:
        everything = list(csv.DictReader(f))
    names = [f"{r['label']}\n{r['stage']}" for r in everything]
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 1.1), 4.5))
    bottom = np.zeros(len(everything))
    for group in GROUPS:
        values = np.array([float(r[f"{group}_per_memory"]) for r in everything])
        ax.bar(names, values, bottom=bottom, label=group)
        bottom += values
    ax.set_ylabel("bytes per live memory")
    ax.set_title("SQLite bytes per memory by table (dbstat)")
    ax.legend()
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "log_bytes.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
