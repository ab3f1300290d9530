"""``bench scale --backends``: MemorySpace on SQLite and on a real PostgreSQL server in one run,
with the same inputs, one row per backend and size, and nothing left on the server."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from memoryspace.bench.scale.backends import backend_name, parse_backends
from memoryspace.bench.scale.runner import ratios
from memoryspace.errors import InvalidInput
from test_bench_scale import _scale, data  # noqa: F401  (a fixture)


def test_backends_are_sqlite_or_postgresql_urls() -> None:
    url = "postgresql://me:secret@db.example:5432/postgres"
    assert parse_backends(f" sqlite , {url}") == ["sqlite", url]
    assert backend_name(url) == "postgresql" and backend_name("sqlite") == "sqlite"
    with pytest.raises(InvalidInput, match="twice"):
        parse_backends("sqlite,sqlite")
    with pytest.raises(InvalidInput, match="sqlite") as refused:
        parse_backends("mysql://me:secret@host/db")
    assert "secret" not in str(refused.value)
    with pytest.raises(InvalidInput):
        parse_backends(" , ")


def test_ratios_compare_each_backend_with_the_first() -> None:
    rows = [
        {"system": "memoryspace", "backend": "sqlite", "n": 10, "add_per_s": 100.0},
        {"system": "memoryspace", "backend": "postgresql", "n": 10, "add_per_s": 25.0},
    ]
    [entry] = ratios(rows)
    assert entry["system"] == "memoryspace/postgresql" and entry["add_per_s_vs_ours"] == 0.25


def test_one_run_measures_both_backends_at_every_size(
    data: Path,  # noqa: F811
    tmp_path: Path,
    postgres_server: str,
) -> None:
    out = tmp_path / "out"
    done = _scale(
        data,
        tmp_path,
        "--n",
        "120,150",
        "--systems",
        "memoryspace",
        "--backends",
        f"sqlite,{postgres_server}",
        "--bulk",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert [(r["backend"], r["n"]) for r in rows] == [
        ("sqlite", 120),
        ("postgresql", 120),
        ("sqlite", 150),
        ("postgresql", 150),
    ]
    for row in rows:
        assert row["add_per_s"] > 0 and row["bm25_p50_ms"] >= 0
        assert row["disk_bytes_per_memory"] > 0 and row["disk_records_per_memory"] > 0
    postgres = [r for r in rows if r["backend"] == "postgresql"]
    # Below ann_threshold (20,000) a dimension has no HNSW index: exact scans.
    assert all(r["index"] == "pgvector-exact" for r in postgres)
    assert all(r["disk_vectors_per_memory"] > 0 for r in postgres)
    assert {r["backend"]: r["add_mode"] for r in rows} == {  # SQLite has no bulk load
        "sqlite": "add_many",
        "postgresql": "bulk_load",
    }
    header = (out / "scale.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["system", "backend", "n"]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '^memoryspace_scale_(120|150)_'"
        ).fetchall()
    assert left == []  # each size's database was dropped


def test_db_and_backends_together_are_refused(data: Path, tmp_path: Path) -> None:  # noqa: F811
    both = _scale(
        data,
        tmp_path,
        "--n",
        "100",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--backends",
        "sqlite",
    )
    assert both.returncode != 0 and "not both" in both.stdout
