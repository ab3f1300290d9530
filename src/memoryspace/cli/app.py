"""The ``memoryspace`` command: a thin shell over ``MemorySpace``.

Every command takes ``--db PATH`` (default ``./memoryspace.db`` or ``$MEMORYSPACE_DB``) and
``--json`` for scripts. Library errors become one line on stderr and exit status 1; with
``--json``, ``{"error": {"type": ..., "message": ...}}`` on stdout (usage errors too, with
click's exit status 2). Their hints are rewritten in CLI terms (``memoryspace.cli.hints``).
Only the commands that store memories (``add``, ``import``, ``conversation``) create a missing
database; the others fail with ``NotFound`` naming the path, and leave no file behind. Help is
plain text so that flags read ``--dry-run`` and ``--pin / --unpin``, without a type placeholder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from memoryspace.api import (
    ChangeOut,
    CheckpointOut,
    ContextOut,
    ForgetOut,
    GCEventOut,
    ImportResultOut,
    MemoryOut,
    RestoreOut,
    SearchHitOut,
    StatsOut,
    gc_options,
)
from memoryspace.cli.bench import bench
from memoryspace.cli.bench_scale import scale_bench
from memoryspace.cli.browse import browsing
from memoryspace.cli.common import (
    DEFAULT_DB,
    Agent,
    Db,
    Embedder,
    Json,
    MinScore,
    Session,
    User,
    console,
    emit,
    errors,
    opened,
    report_error,
    scope_filters,
    show_changes,
    show_hits,
    show_memory,
    when,
)
from memoryspace.cli.config import config
from memoryspace.cli.conversation import conversation
from memoryspace.cli.demo import demo
from memoryspace.cli.figures import rounded
from memoryspace.cli.housekeeping import cache
from memoryspace.cli.maintenance_log import log_care
from memoryspace.cli.mcp import mcp_commands
from memoryspace.cli.migrate import migration
from memoryspace.cli.notes import notes, notes_bench, reflection
from memoryspace.cli.portable import portability
from memoryspace.cli.prompt_budget import prompt_budget_bench
from memoryspace.cli.purge import purging
from memoryspace.cli.read import reading
from memoryspace.cli.reembed import reembedding
from memoryspace.cli.server import keys, serve_bench, serving
from memoryspace.errors import InvalidInput, MemorySpaceError
from memoryspace.models import Memory

app = typer.Typer(
    help="Memory for LLM agents, managed like an operating system manages memory.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from memoryspace import __version__

        sys.stdout.write(f"memoryspace {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Memory for LLM agents, managed like an operating system manages memory."""


@app.command()
def add(
    content: str,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    kind: Annotated[str, typer.Option(help="turn, fact, note, ...")] = "turn",
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeatable).")] = None,
    pinned: Annotated[bool, typer.Option(help="Pin it.")] = False,
    ttl: Annotated[float | None, typer.Option(help="Expire after SECONDS.")] = None,
    as_json: Json = False,
) -> None:
    """Store one memory."""
    with opened(db, embedder, create=True) as ms:
        memory = ms.add(
            content,
            user=user,
            agent=agent,
            session=session,
            kind=kind,
            tags=tag or [],
            pinned=pinned,
            ttl=ttl,
        )
    if as_json:
        emit(MemoryOut.of(memory).to_json())
    elif memory.updated_at > memory.created_at:  # `add` here takes no timestamp: a renewal
        console.print(f"already held as {memory.id} (renewed)")
    else:
        console.print(f"added {memory.id}")


@app.command()
def search(
    query: str,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    k: Annotated[int, typer.Option("-k", help="How many hits.")] = 10,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only these kinds.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Required tag (repeatable).")] = None,
    min_score: MinScore = None,
    as_json: Json = False,
) -> None:
    """Hybrid search (dense + BM25), with each hit's relevance score (0-1) and its parts."""
    filters = scope_filters(user, agent, session)
    if kind:
        filters["kind"] = kind
    if tag:
        filters["tags"] = tag
    with opened(db, embedder) as ms:
        hits = ms.search(query, k=k, min_score=min_score, **filters)
    emit([SearchHitOut.of(h).to_json() for h in hits]) if as_json else show_hits(hits)


@app.command()
def context(
    query: str,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    budget: Annotated[int, typer.Option(help="Token budget.")] = 2000,
    k: Annotated[int, typer.Option("-k", help="Hits to consider.")] = 20,
    min_score: MinScore = None,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    as_json: Json = False,
) -> None:
    """The prompt-ready context for a query: pinned memories first, then the best hits."""
    with opened(db, embedder) as ms:
        assembled = ms.context(
            query, budget=budget, k=k, min_score=min_score, **scope_filters(user, agent, session)
        )
    if as_json:
        emit(ContextOut.of(assembled).to_json())
        return
    sys.stdout.write(assembled.text + "\n")
    errors.print(
        f"{assembled.tokens} of {assembled.budget} tokens, {len(assembled.blocks)} blocks, "
        f"{len(assembled.dropped)} hits did not fit"
    )


@app.command()
def get(id: str, db: Db = DEFAULT_DB, embedder: Embedder = "auto", as_json: Json = False) -> None:
    """Show one memory."""
    with opened(db, embedder) as ms:
        memory = ms.get(id)
    emit(MemoryOut.of(memory).to_json()) if as_json else show_memory(memory)


@app.command()
def history(
    id: str, db: Db = DEFAULT_DB, embedder: Embedder = "auto", as_json: Json = False
) -> None:
    """Every logged change of one memory."""
    with opened(db, embedder) as ms:
        changes = ms.history(id)
    emit([ChangeOut.of(c).to_json() for c in changes]) if as_json else show_changes(changes)


@app.command()
def changes(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    since: Annotated[int, typer.Option(help="Only entries after this LSN.")] = 0,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    as_json: Json = False,
) -> None:
    """The change feed (the operation log) after an LSN."""
    with opened(db, embedder) as ms:
        feed = ms.changes(since, limit)
    emit([ChangeOut.of(c).to_json() for c in feed]) if as_json else show_changes(feed)


@app.command()
def forget(
    ids: Annotated[list[str] | None, typer.Argument(help="Ids to delete.")] = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    query: Annotated[
        str | None, typer.Option(help="Forget those of the top -k hits of this above --min-score.")
    ] = None,
    k: Annotated[int, typer.Option("-k")] = 1,
    min_score: MinScore = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be deleted.")
    ] = False,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
    as_json: Json = False,
) -> None:
    """Delete memories by id, by query, or every memory of a scope.

    A query or scope is previewed first and deleted after you confirm (or with --yes); ids
    named on the command line are deleted at once.
    """
    with opened(db, embedder) as ms:
        if ids:
            ms.delete(ids)
            gone = list(ids)
        else:
            filters = scope_filters(user, agent, session)
            planned = ms.forget(query, k=k, min_score=min_score, dry_run=True, **filters)
            if dry_run or not planned:
                preview(ms.get_many(planned), as_json)
                return
            if not yes:
                confirm_forget(ms.get_many(planned), as_json)
            ms.delete(planned)
            gone = planned
    if as_json:
        emit(ForgetOut(deleted=gone).to_json(exclude_none=True))
    else:
        console.print(f"forgot {len(gone)} memories")


def preview(memories: list[Memory], as_json: bool) -> None:
    """List what ``forget`` would delete (``--dry-run``, or nothing matched)."""
    if as_json:
        emit(ForgetOut(deleted=[], would_delete=[m.id for m in memories]).to_json())
        return
    if not memories:
        console.print("nothing matches well enough: forgot 0 memories")
        return
    show_forget_plan(memories, console)
    console.print(f"would forget {len(memories)} memories (dry run: nothing deleted)")


def show_forget_plan(memories: list[Memory], out: Console) -> None:
    table = Table("id", "user", "content", title="to forget")
    for memory in memories:
        table.add_row(memory.id, memory.user or "-", memory.content[:120])
    out.print(table)


def confirm_forget(memories: list[Memory], as_json: bool) -> None:
    """Show the plan and ask; refuse when nobody can answer.

    Raises:
        InvalidInput: stdin is not a terminal (a script or a pipe); nothing is deleted.
        typer.Exit: the user said no (exit status 1; nothing is deleted).
    """
    if not sys.stdin.isatty():
        raise InvalidInput(
            f"refusing to forget {len(memories)} memories without confirmation: stdin is not "
            "a terminal; pass --yes to delete them, or --dry-run to list them"
        )
    show_forget_plan(memories, errors if as_json else console)
    if not typer.confirm(f"Forget these {len(memories)} memories?", default=False, err=as_json):
        errors.print("nothing forgotten")
        raise typer.Exit(1)


@app.command()
def pin(
    id: str,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    off: Annotated[bool, typer.Option("--off", help="Unpin instead.")] = False,
    as_json: Json = False,
) -> None:
    """Pin a memory (never evicted or collected), or unpin it with --off."""
    with opened(db, embedder) as ms:
        memory = ms.unpin(id) if off else ms.pin(id)
    if as_json:
        emit(MemoryOut.of(memory).to_json())
    else:
        console.print(f"{'unpinned' if off else 'pinned'} {id}")


@app.command()
def checkpoint(
    name: Annotated[str | None, typer.Argument(help="Name; omit to list checkpoints.")] = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace one of the same name.")] = False,
    as_json: Json = False,
) -> None:
    """Take a named consistent snapshot, or list them."""
    with opened(db, embedder) as ms:
        made = [ms.checkpoint(name, overwrite=overwrite)] if name else ms.checkpoints()
    rows = [CheckpointOut.of(c).to_json() for c in made]
    if as_json:
        emit(rows[0] if name else rows)
        return
    table = Table("name", "lsn", "created", "path", "damaged")
    for c in made:
        table.add_row(c.name, str(c.lsn), when(c.created_at), str(c.path), c.damaged or "-")
    console.print(table)


@app.command()
def restore(
    name: Annotated[str | None, typer.Argument(help="Checkpoint; omit to replay the log.")] = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    to_lsn: Annotated[int | None, typer.Option(help="Replay the log up to this LSN.")] = None,
    as_json: Json = False,
) -> None:
    """Bring back a checkpoint's state (or any LSN's), logged so it can be undone."""
    with opened(db, embedder) as ms:
        applied = ms.restore(name, to_lsn=to_lsn)
        lsn = ms.lsn
    if as_json:
        emit(RestoreOut(changes=len(applied), lsn=lsn).to_json())
    else:
        console.print(f"restored with {len(applied)} changes; now at LSN {lsn}")


@app.command()
def gc(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    collector: Annotated[
        str, typer.Option("--collector", help="generational, mark_sweep, ttl or bounded.")
    ] = "generational",
    max_records: Annotated[
        int | None,
        typer.Option("--max-records", help="bounded: keep at most this many live memories."),
    ] = None,
    major: Annotated[
        bool, typer.Option(help="Generational: also sweep the old generation.")
    ] = False,
    idle_days: Annotated[
        float | None,
        typer.Option("--idle-days", help="ttl: also collect memories unused for this many days."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; change nothing.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Collect garbage once: archive, compact or delete what is expired or unreachable and cold."""
    options = gc_options(collector, major=major, idle_days=idle_days, max_records=max_records)
    with opened(db, embedder) as ms:
        event = ms.gc(collector, dry_run=dry_run, **options)
    if as_json:
        emit(GCEventOut.of(event).to_json())
        return
    would = "would collect" if dry_run else "collected"
    console.print(
        f"{event.collector}: scanned {event.scanned}, {would} {event.collected} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(event.action_counts.items())) or 'nothing'}), "
        f"promoted {event.promoted}, {event.compacted} summaries, "
        f"pause {event.pause_duration * 1000:.1f} ms"
    )


@app.command()
def stats(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    profile: Annotated[
        Path | None, typer.Option(help="Also summarise this profiler JSON-lines file.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Sizes, counters, GC totals and configuration (and a profile summary with --profile)."""
    from memoryspace.profiler import MemoryProfiler

    with opened(db, embedder) as ms:
        numbers = ms.stats()
    if profile is not None:
        numbers["profile"] = MemoryProfiler.summarize_file(profile)
    if as_json:
        emit(StatsOut.of(numbers).to_json())
        return
    table = Table(show_header=False, box=None)
    for key, value in rounded(numbers).items():
        table.add_row(f"[bold]{key}[/]", json.dumps(value, default=str))
    console.print(table)


@app.command("export")
def export_(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    out: Annotated[Path | None, typer.Option(help="Write JSONL here (default stdout).")] = None,
    user: User = None,
    agent: Agent = None,
    session: Session = None,
) -> None:
    """Every memory as JSON lines with its id (re-importable with `import`, here or elsewhere)."""
    with opened(db, embedder) as ms:
        handle = open(out, "w", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
        try:
            for record in ms.export_records(**scope_filters(user, agent, session)):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        finally:
            if out:
                handle.close()


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL of memories, or LoCoMo JSON.")],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    batch: Annotated[int, typer.Option(help="Memories per transaction.")] = 256,
    on_conflict: Annotated[
        str,
        typer.Option(
            "--on-conflict",
            help="A record whose id the database holds: skip, replace or error.",
        ),
    ] = "skip",
    as_json: Json = False,
) -> None:
    """Import memories from JSONL (one `add` record a line) or LoCoMo conversations.

    Importing is idempotent: records whose id is taken are skipped (or replaced), and content a
    memory of the same scope and kind already holds is not stored twice.
    """
    from memoryspace.transfer import ON_CONFLICT, read_records

    if on_conflict not in ON_CONFLICT:
        raise InvalidInput(f"--on-conflict is one of {', '.join(ON_CONFLICT)}, not {on_conflict!r}")
    records = read_records(file)
    with (
        opened(db, embedder, create=True) as ms,
        Progress(console=errors, disable=as_json) as progress,
    ):
        task = progress.add_task(f"importing {file.name}", total=len(records))
        result = ms.import_records(
            records,
            on_conflict=on_conflict,
            batch=batch,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        emit(ImportResultOut.of(result).to_json())
    else:
        console.print(
            f"read {result.imported} records: added {result.added}, already held "
            f"{result.deduplicated}, skipped {result.skipped} (id taken), replaced "
            f"{result.replaced}; the database holds {result.memories} memories"
        )


# The other commands, each module's own Typer app: `--help` lists the commands above first,
# then these in this order. An app added without a name merges its commands into the parent.
bench.add_typer(notes_bench)  # `bench knowledge-update` and `bench duplicates`
bench.add_typer(serve_bench)  # `bench serve`
bench.add_typer(prompt_budget_bench)  # `bench prompt-budget`
bench.add_typer(scale_bench)  # `bench scale` and `bench vector-precision`
app.add_typer(browsing)  # `list`, `count` and `update`
app.add_typer(reading)  # `read`
app.add_typer(bench, name="bench")
app.add_typer(config, name="config")
app.add_typer(conversation, name="conversation")
app.add_typer(demo, name="demo")
app.add_typer(cache, name="cache")
app.add_typer(mcp_commands)  # `mcp`
app.add_typer(migration)  # `migrate`
app.add_typer(portability)  # `export-checkpoint` and `import-checkpoint`
app.add_typer(notes, name="notes", no_args_is_help=True)
app.add_typer(reflection)  # `reflect`
app.add_typer(purging)  # `purge`
app.add_typer(reembedding)  # `reembed`
app.add_typer(serving)  # `serve`
app.add_typer(keys, name="keys")
app.add_typer(log_care)  # `compact-log` and `vacuum`


def main() -> None:
    """Entry point: run the app, turning library errors into one clean line (exit status 1)."""
    as_json = _wants_json(sys.argv[1:])
    try:
        if not as_json:
            app()
        # Under --json, usage errors (a missing argument, a bad value) are JSON as well.
        outcome = app(standalone_mode=False)
        raise SystemExit(outcome if isinstance(outcome, int) else 0)
    except MemorySpaceError as exc:
        report_error(exc, as_json=as_json)
        raise SystemExit(1) from None
    except typer.TyperException as exc:  # raised to us only under --json
        emit({"error": {"type": type(exc).__name__, "message": exc.format_message()}})
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:  # Ctrl-C under --json (click prints "Aborted!" otherwise)
        raise SystemExit(1) from None


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for JSON (``--json`` before any ``--``)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)
