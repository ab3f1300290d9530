"""``memoryspace bench ...``: benchmarks that print a table and write CSV."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from memoryspace.cli.bench_common import (
    AsJson,
    BenchEmbedder,
    Data,
    Out,
    emit_doc,
    ints,
    progress_bars,
    report,
    table_console,
)
from memoryspace.cli.common import errors
from memoryspace.errors import BackendUnavailable, InvalidInput

bench = typer.Typer(help="Benchmarks: each prints a table and can write CSV.", no_args_is_help=True)


@bench.callback()
def _needs_the_bench_extra() -> None:
    """Fail before a long run, not at its plot: benchmarks chart with matplotlib and measure RSS
    with psutil (the bench extra)."""
    for name in ("matplotlib", "psutil"):
        try:
            importlib.import_module(name)
        except ImportError:
            raise BackendUnavailable(
                f"benchmarks need the bench extra ({name} is missing); "
                "pip install 'memoryspace[bench]'"
            ) from None


@bench.command("locomo")
def locomo(
    data: Data,
    conversations: Annotated[
        list[str] | None,
        typer.Option("--conversations", help="sample_id(s) to run, e.g. conv-26 (repeatable)."),
    ] = None,
    modes: Annotated[str, typer.Option(help="Modes, comma-separated.")] = (
        "memoryspace,recent,reservoir,bm25,dense,mem0"
    ),
    k: Annotated[str, typer.Option("--k", help="Cut-offs for recall@k, comma-separated.")] = "5,10",
    budget: Annotated[str, typer.Option(help="Token budgets, comma-separated.")] = "1000,2000",
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
    db: Annotated[
        str,
        typer.Option(
            "--db", help="An empty database for the memoryspace mode (e.g. postgresql://...)."
        ),
    ] = ":memory:",
) -> None:
    """Evidence recall@k, recall at a token budget and MRR by LoCoMo question category."""
    from memoryspace.bench import locomo as locomo_bench
    from memoryspace.bench.mode_factory import parse_modes
    from memoryspace.bench.report import print_table
    from memoryspace.datasets.locomo import load_locomo, select_conversations
    from memoryspace.embed.resolve import resolve_embedder

    names = parse_modes(modes)
    ks, budgets = ints(k, "--k", 1), ints(budget, "--budget", 1)
    wanted = [c.strip() for item in conversations or [] for c in item.split(",") if c.strip()]
    chosen = select_conversations(load_locomo(data), wanted)
    model = resolve_embedder(embedder)
    with progress_bars(as_json) as progress:
        doc = locomo_bench.run(
            chosen,
            modes=names,
            ks=ks,
            budgets=budgets,
            embedder=model,
            progress=progress,
            db=db,
        )
    written = locomo_bench.write_outputs(doc, out) if out is not None else []
    if as_json:
        emit_doc(doc)
        return
    console = table_console()
    for title, rows in locomo_bench.tables(doc):
        print_table(title, rows, console)
    console.print(
        f"{doc['questions']} questions in {len(chosen)} conversation(s), embedder "
        f"{doc['embedder']}; {doc['questions_without_evidence']} without resolvable evidence "
        f"(skipped), {doc['unresolved_evidence']} evidence id(s) that name no turn"
    )
    for path in written:
        errors.print(f"wrote {path}")


@bench.command("hotpot")
def hotpot(
    data: Data,
    modes: Annotated[str, typer.Option(help="Modes, comma-separated.")] = (
        "memoryspace,recent,bm25,dense"
    ),
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Supporting-fact recall@5 and all-facts hit@5 on HotpotQA, one scope per question."""
    from memoryspace.bench import hotpot as hotpot_bench
    from memoryspace.bench.mode_factory import parse_modes
    from memoryspace.bench.report import print_table
    from memoryspace.datasets.hotpot import load_hotpot
    from memoryspace.embed.resolve import resolve_embedder

    names = parse_modes(modes)
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit needs at least 1, got {limit}")
    questions = load_hotpot(data, limit=limit)
    model = resolve_embedder(embedder)
    with progress_bars(as_json) as progress:
        doc = hotpot_bench.run(questions, modes=names, embedder=model, progress=progress)
    written = hotpot_bench.write_outputs(doc, out) if out is not None else []
    if as_json:
        emit_doc(doc)
        return
    console = table_console()
    print_table(
        f"HotpotQA supporting facts in the top 5 ({doc['questions']} questions)",
        hotpot_bench.table(doc),
        console,
    )
    console.print(
        f"embedder {doc['embedder']}; {doc['unresolved_facts']} supporting fact(s) that name no "
        f"context sentence; seed reference numbers come from another system and sample"
    )
    for path in written:
        errors.print(f"wrote {path}")


@bench.command("longmemeval")
def longmemeval(
    data: Data,
    modes: Annotated[str, typer.Option(help="Modes, comma-separated.")] = "memoryspace,bm25,dense",
    k: Annotated[
        str, typer.Option("--k", help="Cut-offs for session recall_any/all@k, comma-separated.")
    ] = "5",
    limit: Annotated[
        int | None,
        typer.Option(help="Only the first N questions of each question type (quick runs)."),
    ] = None,
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Turn recall@10/@50, session recall_any/all@k and NDCG@10 on LongMemEval by question type,
    one fresh scope per haystack (reads .json and .json.gz)."""
    from memoryspace.bench import longmemeval as lme_bench
    from memoryspace.bench.mode_factory import parse_modes
    from memoryspace.bench.report import print_table
    from memoryspace.datasets.longmemeval import load_longmemeval
    from memoryspace.embed.resolve import resolve_embedder

    names = parse_modes(modes)
    ks = ints(k, "--k", 1)
    haystacks = load_longmemeval(data)
    if limit is not None:
        haystacks = lme_bench.first_of_each_type(haystacks, limit)
    model = resolve_embedder(embedder)
    with progress_bars(as_json) as progress:
        doc = lme_bench.run(haystacks, modes=names, ks=ks, embedder=model, progress=progress)
    written = lme_bench.write_outputs(doc, out) if out is not None else []
    if as_json:
        emit_doc(doc)
        return
    console = table_console()
    for title, rows in lme_bench.tables(doc):
        print_table(title, rows, console)
    console.print(
        f"{doc['questions']} questions ({doc['abstention_questions']} abstention, scored apart) "
        f"in {doc['haystacks']} haystack(s), embedder {doc['embedder']}; "
        f"{doc['questions_without_answer_turns']} without has_answer turns (no turn recall)"
    )
    for path in written:
        errors.print(f"wrote {path}")


@bench.command("tiered")
def tiered(
    data: Data,
    conversation: Annotated[
        str | None, typer.Option(help="sample_id (default: the first).")
    ] = None,
    capacity: Annotated[int, typer.Option(help="Hot-tier capacity in records.")] = 64,
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Replay a LoCoMo conversation's retrievals through the hot tier, per replacement policy,
    write policy and promotion batch: hit rate, page faults, write-backs."""
    from memoryspace.bench import tiered as tiered_bench

    if capacity < 1:
        raise InvalidInput(f"--capacity needs at least 1, got {capacity}")
    with progress_bars(as_json) as progress:
        rows = tiered_bench.run(
            data, conversation=conversation, capacity=capacity, embedder=embedder, progress=progress
        )
    report(
        {"benchmark": "tiered", "capacity": capacity, "rows": rows},
        rows,
        name="tiered",
        out=out,
        as_json=as_json,
        title=f"Hot tier, capacity {capacity} records",
        plot=lambda path: tiered_bench.plot(rows, path),
    )


@bench.command("context")
def context_replay(
    data: Data,
    conversation: Annotated[
        str | None, typer.Option(help="sample_id (default: the first).")
    ] = None,
    budget: Annotated[int, typer.Option(help="Context budget in tokens.")] = 2000,
    k: Annotated[int, typer.Option("-k", help="Hits retrieved per question.")] = 20,
    embedder: BenchEmbedder = "auto",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Prefix stability of the context heap on a LoCoMo replay, per allocator and layout."""
    from memoryspace.bench import context_replay as replay

    if budget < 1 or k < 1:
        raise InvalidInput(f"--budget and -k need at least 1, got {budget} and {k}")
    chosen = replay.load_conversation(data, conversation)
    with progress_bars(as_json) as progress:
        doc = replay.run(chosen, embedder=embedder, budget=budget, k=k, progress=progress)
    report(doc, doc["rows"], name="context", out=out, as_json=as_json, title=replay.title(doc))


# -- memory capacity and GC: a text stream through a bounded memory


def _names(text: str, option: str) -> list[str]:
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise InvalidInput(f"{option} needs at least one name; got {text!r}")
    return names


def _limit(limit: int) -> int | None:
    if limit < 0:
        raise InvalidInput(f"--limit needs 0 (the whole file) or more, got {limit}")
    return limit or None


ChunkSize = Annotated[int, typer.Option(help="Characters per chunk.")]
QueryInterval = Annotated[int, typer.Option(help="Chunks streamed between two queries.")]
StreamEmbedder = Annotated[
    str, typer.Option("--embedder", help="hashing (fast), auto (MiniLM when installed) or minilm.")
]


@bench.command("capacity")
def capacity(
    data: Data,
    chunk_size: ChunkSize = 512,
    limit: Annotated[int, typer.Option(help="Chunks streamed at most (0: the whole file).")] = 0,
    capacities: Annotated[str, typer.Option(help="Capacities in chunks, comma-separated.")] = (
        "4096,8192"
    ),
    query_interval: QueryInterval = 10,
    reuse: Annotated[
        float, typer.Option(help="Probability that a query re-asks a recently asked chunk.")
    ] = 0.5,
    baselines: Annotated[str, typer.Option(help="Baselines, comma-separated.")] = (
        "sliding,reservoir,lru"
    ),
    collectors: Annotated[str, typer.Option(help="MemorySpace collectors, comma-separated.")] = (
        "ttl_mark,ttl_mark_gen"
    ),
    seeds: Annotated[str, typer.Option(help="Seeds, comma-separated.")] = "1",
    hot_fraction: Annotated[
        float, typer.Option(help="MemorySpace hot tier size, as a fraction of the capacity.")
    ] = 0.125,
    embedder: StreamEmbedder = "hashing",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Stream a text into memories of fixed capacity and ask about their working set (recent
    and recently asked chunks): hit@1 / hit@5, GC pause p99, page faults."""
    from memoryspace.bench import capacity as capacity_bench

    sizes = ints(capacities, "--capacities", 1)
    with progress_bars(as_json) as progress:
        doc = capacity_bench.run(
            data,
            chunk_size=chunk_size,
            limit=_limit(limit),
            capacities=sizes,
            query_interval=query_interval,
            reuse=reuse,
            baselines=[] if baselines.strip() in ("", "none") else _names(baselines, "--baselines"),
            collectors=_names(collectors, "--collectors"),
            seeds=ints(seeds, "--seeds", 0),
            hot_fraction=hot_fraction,
            embedder=embedder,
            progress=progress,
        )
    report(
        doc,
        doc["rows"],
        name="capacity",
        out=out,
        as_json=as_json,
        title=f"Memory capacity: {doc['dataset']}",
        plot=lambda path: capacity_bench.plot(doc, path),
    )


@bench.command("gc")
def gc_ablation(
    data: Data,
    chunk_size: ChunkSize = 512,
    limit: Annotated[int, typer.Option(help="Chunks streamed at most (0: the whole file).")] = 2000,
    capacity: Annotated[int, typer.Option(help="Scale of TTL, cold age and triggers.")] = 256,
    query_interval: QueryInterval = 10,
    seed: Annotated[int, typer.Option(help="Seed of the queries and the bandit.")] = 1,
    embedder: StreamEmbedder = "hashing",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """GC ablation: each collector under each trigger policy on one text stream: GC events,
    pause p50/p99, records kept, hit@1 / hit@5."""
    from memoryspace.bench import gc_ablation as gc_bench

    with progress_bars(as_json) as progress:
        doc = gc_bench.run(
            data,
            chunk_size=chunk_size,
            limit=_limit(limit),
            capacity=capacity,
            query_interval=query_interval,
            seed=seed,
            embedder=embedder,
            progress=progress,
        )
    report(
        doc,
        doc["rows"],
        name="gc",
        out=out,
        as_json=as_json,
        title=f"GC ablation: {doc['dataset']}, capacity {capacity}",
        plot=lambda path: gc_bench.plot(doc, path),
    )
    if as_json:
        return
    for trigger, why in doc["skipped"].items():
        errors.print(f"skipped trigger {trigger}: {why}")


# -- the reader (MemAgent): linear cost and quality on long inputs


@bench.command("read-scaling")
def read_scaling(
    data: Annotated[list[Path], typer.Option("--data", help="Text file(s) to read (repeatable).")],
    sizes: Annotated[str, typer.Option(help="Tokens to read, comma-separated.")] = (
        "10000,100000,1000000,4000000"
    ),
    chunk_tokens: Annotated[int, typer.Option(help="Tokens per chunk.")] = 2048,
    memory_tokens: Annotated[int, typer.Option(help="Tokens of the memory.")] = 1024,
    question: Annotated[
        str, typer.Option(help="The question the reader keeps evidence for ('' for none).")
    ] = "Who founded it, when, and where was it based?",
    embedder: StreamEmbedder = "hashing",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Read each file up to each size (repeating a short file) in a fresh process: wall time,
    ms per 1k tokens, peak RSS, and a linear fit per file."""
    from memoryspace.bench import read_scaling as scaling

    with progress_bars(as_json) as progress:
        doc = scaling.run(
            data,
            ints(sizes, "--sizes", 100),
            chunk_tokens=chunk_tokens,
            memory_tokens=memory_tokens,
            question=question or None,
            embedder=embedder,
            progress=progress,
        )
    report(
        doc,
        doc["rows"],
        name="read_scaling",
        out=out,
        as_json=as_json,
        title=f"Reader scaling: chunk {chunk_tokens}, memory {memory_tokens} tokens",
        plot=lambda path: scaling.plot(doc, path),
    )
    if not as_json:
        from memoryspace.bench.report import print_table

        print_table("Linear fit per file (seconds = a + b * tokens)", doc["fits"], table_console())
        for row in doc["rows"]:
            if row["passes"] > 1:
                errors.print(
                    f"{row['data']} was read {row['passes']} times to reach {row['size']:,} tokens"
                )


@bench.command("read-hotpot")
def read_hotpot(
    data: Data,
    tokens: Annotated[str, typer.Option(help="Input lengths in tokens, comma-separated.")] = (
        "8000,32000,128000"
    ),
    filler: Annotated[
        Path | None, typer.Option(help="enwik8 XML whose articles pad inputs past the pool.")
    ] = None,
    memory_tokens: Annotated[int, typer.Option(help="Tokens of every method's memory.")] = 1024,
    chunk_tokens: Annotated[int, typer.Option(help="Tokens per chunk the reader reads.")] = 2048,
    methods: Annotated[str, typer.Option(help="Methods, comma-separated.")] = (
        "reader,reader-no-bridge,truncation,sliding,bm25"
    ),
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the distractor draw and shuffle.")] = 1,
    embedder: StreamEmbedder = "hashing",
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """RULER-HotpotQA style: each question's paragraphs hidden in inputs of growing length;
    supporting-fact recall and answer containment of the final memory, reader vs baselines."""
    from memoryspace.bench import read_hotpot as hotpot_read
    from memoryspace.datasets.hotpot import load_hotpot

    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit needs at least 1, got {limit}")
    questions = load_hotpot(data, limit=limit)
    pad = hotpot_read.filler_paragraphs(filler) if filler is not None else []
    with progress_bars(as_json) as progress:
        doc = hotpot_read.run(
            questions,
            lengths=ints(tokens, "--tokens", 100),
            memory_tokens=memory_tokens,
            chunk_tokens=chunk_tokens,
            methods=_names(methods, "--methods"),
            filler=pad,
            embedder=embedder,
            seed=seed,
            progress=progress,
        )
    report(
        doc,
        doc["rows"],
        name="read_hotpot",
        out=out,
        as_json=as_json,
        title=(
            f"HotpotQA in long inputs ({doc['questions']} questions, memory {memory_tokens} "
            f"tokens, embedder {doc['embedder']})"
        ),
        plot=lambda path: hotpot_read.plot(doc, path),
    )
