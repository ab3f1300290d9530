"""``memoryspace bench scale`` and ``bench vector-precision``: the cost of memory at scale,
beside the embedded stores users would pick instead (see ``memoryspace.bench.scale``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from memoryspace.cli.bench_common import (
    AsJson,
    Data,
    Out,
    progress_bars,
    report,
)
from memoryspace.cli.common import errors
from memoryspace.errors import InvalidInput

scale_bench = typer.Typer()


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            f"--n takes comma-separated counts like 10000,100000; got {text!r}"
        ) from None
    if not sizes or min(sizes) < 100:
        raise InvalidInput("--n needs sizes of at least 100")
    return sizes


@scale_bench.command("scale")
def scale(
    data: Data,
    n: Annotated[str, typer.Option(help="Sizes, comma-separated.")] = "10000,100000",
    systems: Annotated[
        str, typer.Option(help="Systems, comma-separated: memoryspace, lancedb, chromadb.")
    ] = "memoryspace,lancedb,chromadb",
    vectors: Annotated[
        str,
        typer.Option(
            help="minilm, hashing, or auto: MiniLM up to --max-real memories, hashing above "
            "(labelled in the output)."
        ),
    ] = "auto",
    max_real: Annotated[int, typer.Option(help="Largest size given MiniLM vectors.")] = 100_000,
    queries: Annotated[int, typer.Option(help="Questions per size.")] = 200,
    batch: Annotated[int, typer.Option(help="Records per add call.")] = 1000,
    db: Annotated[
        str | None,
        typer.Option("--db", help="An empty database URL for MemorySpace (one size per run)."),
    ] = None,
    backends: Annotated[
        str | None,
        typer.Option(
            help="MemorySpace on each of these, side by side: sqlite and/or a postgresql:// "
            "server URL (a new database per size, dropped after)."
        ),
    ] = None,
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk",
            help="Add inside the store's bulk_load() (PostgreSQL: the HNSW index built once, "
            "after the last batch, counted in the add time); labelled add_mode in the output.",
        ),
    ] = False,
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Add rate, search p50/p99, recall, rebuild time, disk and RSS by size, beside peers."""
    from memoryspace.bench.scale import runner
    from memoryspace.bench.scale.backends import parse_backends
    from memoryspace.bench.scale.plot import plot_cost_curve
    from memoryspace.embed.minilm import MiniLMEmbedder, minilm_missing

    sizes = _sizes(n)
    chosen = [s.strip() for s in systems.split(",") if s.strip()]
    if batch < 1 or queries < 1:
        raise InvalidInput("--batch and --queries must be at least 1")
    minilm = MiniLMEmbedder() if minilm_missing() is None else None
    with progress_bars(as_json) as progress:
        doc = runner.run(
            data,
            sizes,
            systems=chosen,
            vectors=vectors,
            max_real=max_real,
            queries=queries,
            batch=batch,
            db=db,
            backends=None if backends is None else parse_backends(backends),
            minilm=minilm,
            progress=progress,
            on_row=lambda row: _scale_row_done(row, out, as_json),
            bulk=bulk,
        )
    if out is not None:
        import json

        out.mkdir(parents=True, exist_ok=True)
        (out / "scale.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    rows = [{**row, "system": _name(row)} for row in doc["rows"] if "add_per_s" in row]
    columns = list(dict.fromkeys(key for row in doc["rows"] for key in row))
    table = [
        {"metric": name, **{_column(r): r.get(name) for r in doc["rows"]}}
        for name in columns
        if name not in ("system", "backend", "n")
    ]
    report(
        doc,
        [{key: row.get(key) for key in columns} for row in doc["rows"]],
        name="scale",
        out=out,
        as_json=as_json,
        title="MemorySpace scale benchmark (one column per system and size)",
        table=table,
        plot=(lambda path: plot_cost_curve(rows, path)) if rows else None,
    )
    if not as_json:
        for line in _scale_notes(doc):
            errors.print(line)


@scale_bench.command("vector-precision")
def vector_precision(
    data: Data,
    n: Annotated[int, typer.Option(help="Memories (real MiniLM vectors, cached).")] = 100_000,
    queries: Annotated[int, typer.Option(help="Questions.")] = 200,
    out: Out = None,
    as_json: AsJson = False,
) -> None:
    """Recall@10 of float32, float16 and int8 HNSW storage of real MiniLM vectors."""
    import numpy as np

    from memoryspace.bench.scale.corpus import load_corpus, text_digest
    from memoryspace.bench.scale.precision import measure
    from memoryspace.bench.scale.vectors import cached_vectors, default_folder
    from memoryspace.embed.minilm import MiniLMEmbedder, minilm_missing

    why = minilm_missing()
    if why is not None:
        raise InvalidInput(f"vector-precision needs real MiniLM vectors: {why}")
    if n < 100 or queries < 1:
        raise InvalidInput("--n must be at least 100 and --queries at least 1")
    corpus = load_corpus(data, default_folder())
    if n > len(corpus.passages):
        raise InvalidInput(f"--n can be at most {len(corpus.passages):,}, the distinct passages")
    model = MiniLMEmbedder()
    with progress_bars(as_json) as progress:
        vectors = cached_vectors(
            corpus.passages[:n], corpus.digest(), model, progress=progress, label="MiniLM vectors"
        )
        questions = cached_vectors(list(corpus.queries), text_digest(corpus.queries), model)
    rows = measure(np.asarray(vectors), np.asarray(questions[:queries]))
    report(
        {"benchmark": "vector-precision", "model": model.model_id, "rows": rows},
        rows,
        name="vector_precision",
        out=out,
        as_json=as_json,
        title=f"Vector storage precision, {n:,} real MiniLM vectors, {queries} real questions",
    )


def _name(row: dict[str, Any]) -> str:
    """The system, with its backend when the run compared backends."""
    return f"{row['system']}/{row['backend']}" if "backend" in row else str(row["system"])


def _column(row: dict[str, Any]) -> str:
    """A table column's name: the system (and backend) and n."""
    return f"{_name(row)} n={row['n']:,}"


def _scale_row_done(row: dict[str, object], out: Path | None, quiet: bool) -> None:
    """Keep each row as it comes (``scale.rows.jsonl`` in ``out``), so a long run that is stopped
    keeps the sizes it finished, and say which is done."""
    import json

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "scale.rows.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
    if not quiet:
        errors.print(f"done: {_column(row)}")


def _scale_notes(doc: dict[str, object]) -> list[str]:
    """What the table does not say: the corpus, which vectors each size used, the query
    embedding cost, skipped peers and the ratios to ours."""
    notes = [f"corpus: {doc['corpus']}"]
    sizes = doc["sizes"]
    assert isinstance(sizes, dict)
    notes.extend(
        f"n={int(k):,}: vectors {v['vectors']}, {v['cycled_copies']:,} cycled copies"
        for k, v in sizes.items()
    )
    if "query_embedding" in doc:
        notes.append(f"not in search latency: {doc['query_embedding']}")
    skipped = doc.get("skipped")
    if isinstance(skipped, dict):
        notes.extend(f"skipped {peer}: {why}" for peer, why in skipped.items())
    ratios = doc.get("ratios")
    if isinstance(ratios, list):
        for entry in ratios:
            parts = ", ".join(
                f"{k.removesuffix('_vs_ours')} x{v:.2f}"
                for k, v in entry.items()
                if k.endswith("_vs_ours") and v is not None
            )
            notes.append(f"{entry['system']} / memoryspace at n={entry['n']:,}: {parts}")
    return notes


# -- retrieval quality: LoCoMo, HotpotQA, LongMemEval
