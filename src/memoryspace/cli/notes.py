"""``memoryspace notes add/show/link/unlink/search``, ``memoryspace reflect [--dry-run]`` and
the benchmarks ``memoryspace bench knowledge-update`` and ``memoryspace bench duplicates``.

Notes are A-MEM linked notes of a scope (see ``memoryspace.notes``); ``reflect`` runs one
reflection job (see ``memoryspace.reflect``). With ``MEMORYSPACE_LLM_URL`` and
``MEMORYSPACE_LLM_MODEL`` set, notes are described and claims extracted by that model.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from memoryspace.cli.bench_common import (
    AsJson,
    BenchEmbedder,
    Data,
    Out,
    progress_bars,
    report,
)
from memoryspace.cli.common import (
    DEFAULT_DB,
    Agent,
    Db,
    Embedder,
    Json,
    MinScore,
    User,
    console,
    emit,
    opened,
    show_changes,
    when,
)
from memoryspace.errors import InvalidInput
from memoryspace.notes import SEARCH_EXPAND, NoteView
from memoryspace.reflect import Reflection

notes = typer.Typer(help="A-MEM linked notes: keywords, tags, context, typed links.")
reflection = typer.Typer()
notes_bench = typer.Typer()  # added to `memoryspace bench`

LinkTypeOption = Annotated[
    str,
    typer.Option(
        "--type",
        help="related, supports, contradicts, follows, derived_from or supersedes.",
    ),
]


@notes.command("add")
def add_note(
    content: Annotated[str, typer.Argument(help="The note's text.")],
    link: Annotated[
        list[str] | None,
        typer.Option("--link", help="ID or ID:TYPE of a memory to link to (repeatable)."),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    user: User = None,
    agent: Agent = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Add a note: keywords, tags and context are made for it; it links to its neighbours."""
    links = []
    for value in link or []:
        target, _, kind = value.partition(":")
        links.append({"id": target, "type": kind or "related"})
    with opened(db, embedder, create=True) as ms:
        note = ms.notes(user=user, agent=agent).add(content, links=links, tags=tag or [])
        view = ms.notes(user=user, agent=agent).show(note.id)
    print_view(view, as_json)


@notes.command("show")
def show_note(
    id: Annotated[str, typer.Argument(help="The note's id.")],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """A note with its keywords, tags, context, links and history."""
    with opened(db, embedder) as ms:
        view = ms.notes().show(id)
    print_view(view, as_json)


@notes.command("link")
def link_notes(
    source: Annotated[str, typer.Argument(help="The note that links.")],
    target: Annotated[str, typer.Argument(help="The memory it links to.")],
    kind: LinkTypeOption = "related",
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Link a note to a memory by id, with a type."""
    with opened(db, embedder) as ms:
        ms.notes().link(source, target, kind)
        view = ms.notes().show(source)
    print_view(view, as_json)


@notes.command("unlink")
def unlink_notes(
    source: Annotated[str, typer.Argument(help="The note that links.")],
    target: Annotated[str, typer.Argument(help="The memory it links to.")],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Remove a note's links to a memory."""
    with opened(db, embedder) as ms:
        ms.notes().unlink(source, target)
        view = ms.notes().show(source)
    print_view(view, as_json)


@notes.command("search")
def search_notes(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many notes.")] = 10,
    expand: Annotated[
        int, typer.Option("--expand", help="Link hops to follow (0-3; 1 adds linked notes).")
    ] = SEARCH_EXPAND,
    min_score: MinScore = None,
    user: User = None,
    agent: Agent = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Search notes; hits reached through a link say from which note."""
    with opened(db, embedder) as ms:
        hits = ms.notes(user=user, agent=agent).search(
            query, k=k, expand=expand, min_score=min_score
        )
    if as_json:
        emit([hit.to_dict() for hit in hits])
        return
    table = Table("#", "score", "via", "id", "content")
    for rank, hit in enumerate(hits, 1):
        via = f"{hit.parts.via_link} from {hit.parts.via}" if hit.parts.via else "-"
        table.add_row(str(rank), f"{hit.score:.4f}", via, hit.memory.id, hit.memory.content[:100])
    console.print(table)


def print_view(view: NoteView, as_json: bool) -> None:
    if as_json:
        emit(view.to_dict())
        return
    note = view.note
    console.print(f"[bold]{note.id}[/] ({when(note.created_at)}): {note.content}")
    keywords = note.meta.get("keywords", [])
    console.print(f"keywords: {', '.join(map(str, keywords)) or '-'}")
    console.print(f"tags: {', '.join(note.tags) or '-'}")
    console.print(f"context: {note.meta.get('context', '-')}")
    table = Table("type", "strong", "id", "content", title="links")
    for link, target in view.links:
        text = "(gone)" if target is None else target.content[:100]
        table.add_row(str(link.type), "yes" if link.strong else "no", link.id, text)
    console.print(table)
    show_changes(list(view.history))


@reflection.command("reflect")
def reflect(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan with reasons; change nothing.")
    ] = False,
    user: User = None,
    agent: Agent = None,
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Merge duplicates, close superseded memories, archive stale ones, re-score importance."""
    with opened(db, embedder) as ms:
        result = ms.reflect(user=user, agent=agent, dry_run=dry_run)
    print_reflection(result, as_json)


def print_reflection(result: Reflection, as_json: bool) -> None:
    if as_json:
        emit(result.to_dict())
        return
    table = Table("action", "ids", "new", "reason", title="reflection plan")
    for group in result.plan.describe():
        table.add_row(
            group["action"], "\n".join(group["ids"]), "\n".join(group["new"]), group["reason"]
        )
    console.print(table)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())) or "nothing to do"
    if result.dry_run:
        console.print(f"would apply: {counts} (dry run: nothing changed)")
    else:
        console.print(
            f"applied {len(result.applied)} groups ({counts}), skipped {len(result.skipped)}; "
            f"undo with: memoryspace restore --to-lsn {result.lsn_before}"
        )


# -- benchmarks (`notes_bench`, added to `memoryspace bench`)


@notes_bench.command("knowledge-update")
def knowledge_update(
    data: Data,
    k: Annotated[int, typer.Option("--k", help="Depth for 'newer session in the top k'.")] = 5,
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """LongMemEval knowledge updates: latest value's session above the outdated one, with and
    without reflection."""
    from memoryspace.bench import knowledge_update as bench_ku
    from memoryspace.embed.resolve import resolve_embedder

    haystacks = bench_ku.load_haystacks(data)
    model = resolve_embedder(embedder)
    with progress_bars(as_json) as progress:
        doc = bench_ku.run(haystacks, embedder=model, k=k, progress=progress)
    title = f"LongMemEval knowledge updates ({doc['questions']} questions, {doc['embedder']})"
    report(
        doc,
        bench_ku.csv_rows(doc),
        name="knowledge_update",
        title=title,
        out=out,
        as_json=as_json,
        table=bench_ku.table(doc),
    )


@notes_bench.command("duplicates")
def duplicates(
    facts: Annotated[int, typer.Option(help="Distinct facts in the stream.")] = 200,
    repeats: Annotated[int, typer.Option(help="Wordings of each fact.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the stream.")] = 0,
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """A synthetic duplicate-heavy stream: share of stored duplicates before and after reflect."""
    from memoryspace.bench import duplicates as bench_dup
    from memoryspace.embed.resolve import resolve_embedder

    if facts < 1 or repeats < 1:
        raise InvalidInput("--facts and --repeats must be at least 1")
    model = resolve_embedder(embedder)
    with progress_bars(as_json) as progress:
        doc = bench_dup.run(
            embedder=model, facts=facts, repeats=repeats, seed=seed, progress=progress
        )
    title = f"Stored duplicates before/after reflect ({facts} facts x {repeats}, {doc['embedder']})"
    report(
        doc,
        doc["rows"],
        name="duplicates",
        title=title,
        out=out,
        as_json=as_json,
        plot=lambda path: bench_dup.write_chart(doc, path),
    )
