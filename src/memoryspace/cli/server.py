"""``memoryspace serve`` (the REST server) and ``memoryspace keys`` (its API keys)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from memoryspace.cli.bench_common import progress_bars, report
from memoryspace.cli.common import DEFAULT_DB, Db, Embedder, Json, console, emit, opened, when
from memoryspace.errors import BackendUnavailable, InvalidInput

serving = typer.Typer()
keys = typer.Typer(help="API keys of the REST server: create, list, revoke.", no_args_is_help=True)
serve_bench = typer.Typer()  # added to `memoryspace bench`


@serving.command()
def serve(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    workers: Annotated[
        int, typer.Option(help="Server processes sharing the port (each opens the database).")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (uvicorn's access log).")
    ] = True,
) -> None:
    """Serve the database over HTTP (REST, change feed, /metrics; OpenAPI at /openapi.json).

    Without API keys it listens on loopback addresses only. ``--workers N`` runs N processes
    (a database file or PostgreSQL; each follows the log, so all see every write).
    """
    try:
        from memoryspace.server.run import serve as run
    except ImportError as exc:
        raise _needs_the_server_extra(exc) from None
    run(db, host=host, port=port, embedder=embedder, workers=workers, access_log=access_log)


def _load() -> str:
    import os

    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def _needs_the_server_extra(exc: ImportError) -> BackendUnavailable:
    return BackendUnavailable(
        f"the REST server needs the server extra ({exc.name} is missing); "
        "pip install 'memoryspace[server]'"
    )


def _expiry(value: str | None) -> float | None:
    """Unix time from ``--expires``: an ISO date/time (UTC unless it says) or ``30d``/``12h``."""
    if value is None:
        return None
    units = {"d": 86_400, "h": 3_600, "m": 60}
    if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit():
        return datetime.now(UTC).timestamp() + float(value[:-1]) * units[value[-1]]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"--expires takes an ISO date (2027-01-31) or a duration (30d, 12h); got {value!r}"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@keys.command("create")
def create(
    namespace: Annotated[
        list[str],
        typer.Option(help="user:NAME, agent:NAME, a prefix like user:team-*, or * (repeatable)."),
    ],
    rights: Annotated[str, typer.Option(help="Comma-separated: read, write, admin.")] = "read",
    expires: Annotated[
        str | None, typer.Option(help="ISO date/time or duration (30d, 12h).")
    ] = None,
    note: Annotated[str, typer.Option(help="What the key is for.")] = "",
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Create a key; its token is printed once (only a digest is stored)."""
    from memoryspace.server.keys import KeyRing

    with opened(db, embedder, create=True) as ms:
        key, token = KeyRing(ms.store).create(
            namespace, rights.split(","), expires_at=_expiry(expires), note=note
        )
    if as_json:
        emit({**key.describe(), "token": token})
        return
    console.print(f"created key {key.id}; its token (shown only now):")
    typer.echo(token)


@keys.command("list")
def list_keys(db: Db = DEFAULT_DB, embedder: Embedder = "auto", as_json: Json = False) -> None:
    """Every key (never its token): namespaces, rights, expiry, revocation."""
    from memoryspace.server.keys import KeyRing

    with opened(db, embedder) as ms:
        found = KeyRing(ms.store).list()
    if as_json:
        emit([key.describe() for key in found])
        return
    table = Table("id", "namespaces", "rights", "created", "expires", "revoked", "note")
    for key in found:
        table.add_row(
            key.id,
            ", ".join(key.namespaces),
            ",".join(key.rights),
            when(key.created_at),
            when(key.expires_at),
            when(key.revoked_at),
            key.note,
        )
    console.print(table)


@keys.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`).")],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Revoke a key: requests with it fail from now on."""
    from memoryspace.server.keys import KeyRing

    with opened(db, embedder) as ms:
        key = KeyRing(ms.store).revoke(key_id)
    emit(key.describe()) if as_json else console.print(f"revoked {key.id}")


@serve_bench.command("serve")
def bench_serve(
    records: Annotated[int, typer.Option(help="Memories to fill the database with.")] = 10_000,
    clients: Annotated[int, typer.Option(help="Concurrent client threads.")] = 8,
    seconds: Annotated[float, typer.Option(help="Seconds of load per operation.")] = 10.0,
    embedder: Annotated[str, typer.Option(help="hashing (default), minilm or auto.")] = "hashing",
    workers: Annotated[int, typer.Option(help="Server processes (searches also run with 1).")] = 2,
    baseline_records: Annotated[
        int, typer.Option(help="A smaller database measured first (0: none).")
    ] = 10_000,
    db: Annotated[
        Path | None,
        typer.Option(help="Keep the filled database here (topped up to --records) and reuse it."),
    ] = None,
    scoped: Annotated[
        bool,
        typer.Option(
            "--scoped/--unscoped",
            help="Each client searches one user's memories (default), or all memories.",
        ),
    ] = True,
    out: Annotated[Path | None, typer.Option(help="Write bench_serve.csv here.")] = None,
    as_json: Json = False,
) -> None:
    """Load the REST server: add and search throughput, p50/p99 latency and server CPU per
    request under concurrent clients, and the cost of embedding one query on its own."""
    from memoryspace.bench.serve import run

    try:
        import memoryspace.server.app  # noqa: F401  (the server it starts needs the extra)
    except ImportError as exc:
        raise _needs_the_server_extra(exc) from None

    with progress_bars(as_json) as progress:
        rows = run(
            records,
            clients,
            seconds,
            embedder=embedder,
            workers=workers,
            baseline_records=baseline_records or None,
            db=db,
            scoped=scoped,
            progress=progress,
        )
    report(
        {"bench": "serve", "rows": rows},
        rows,
        name="bench_serve",
        title=f"REST server under load ({clients} clients, load average {_load()})",
        out=out,
        as_json=as_json,
    )
