"""Reader scaling: is the cost of ``read`` linear in the input, and its memory use flat?

    memoryspace bench read-scaling --data ../shared/data/text8/text8_prefix.txt \\
        --data ../shared/data/enwik8/enwik8_prefix.xml \\
        --sizes 10000,100000,1000000,4000000 [--chunk-tokens 2048] [--memory-tokens 1024] \\
        [--question TEXT] [--embedder hashing] [--json] [--out DIR]

Each (file, size) runs in a fresh process, which streams the file into ``memoryspace.reader.read``
with the offline policy until ``size`` tokens (cl100k when installed) were read; a file shorter
than that is read again from the start, as many passes as needed (the ``passes`` column says how
many). The process reports the wall time of the read, the time per 1k tokens, and its peak RSS
(``ru_maxrss``) before and after the read: the reader holds one chunk and the memory, so the peak
should not depend on the size. CPU time (user + system of the child) is reported beside wall time
because other jobs on a shared machine stretch wall time, not CPU time. Per file, least-squares
lines ``seconds = a + b * tokens`` (wall and CPU) give the slope (ms per 1k tokens) and R²;
``spread`` is the largest deviation of a size's time per 1k tokens from the median over sizes
(goal: within ±20 %). ``embedder_cached_words`` is the size of the hashing embedder's per-word
LRU cache (bounded at 65,536 words), which grows the RSS with the vocabulary seen until it is
full.
"""

from __future__ import annotations

import itertools
import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from memoryspace.errors import BackendUnavailable, InvalidInput

DEFAULT_QUESTION = "Who founded it, when, and where was it based?"


def repeated(path: Path, passes: list[int]) -> Iterator[str]:
    """The file's text in pieces, from the start again after its end, forever; ``passes[0]``
    counts the passes begun."""
    from memoryspace.reader.stream import pieces

    for number in itertools.count(1):
        passes[0] = number
        yielded = False
        for piece in pieces(path):
            yielded = True
            yield piece
        if not yielded:
            raise InvalidInput(f"{path} is empty; pass a file with text")
        yield "\n"


def run_size(
    path: Path,
    tokens: int,
    *,
    chunk_tokens: int,
    memory_tokens: int,
    question: str | None,
    embedder: str,
) -> dict[str, Any]:
    """Measure one read in this process (call it in a fresh child process)."""
    from memoryspace.context.tokenizer import default_token_counter
    from memoryspace.embed.resolve import resolve_embedder
    from memoryspace.reader import OfflinePolicy, read

    counter = default_token_counter()
    model = resolve_embedder(embedder)
    policy = OfflinePolicy(model)
    read("Warm up the tokenizer and the embedder. " * 50, question, policy=policy)
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    passes = [0]
    cpu_started = _cpu_seconds()
    started = time.perf_counter()
    reading = read(
        repeated(path, passes),
        question,
        chunk_tokens=chunk_tokens,
        memory_tokens=memory_tokens,
        policy=OfflinePolicy(model),
        count_tokens=counter,
        max_tokens=tokens,
    )
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "data": path.name,
        "size": tokens,
        "tokens": reading.tokens_read,
        "passes": passes[0],
        "chunks": len(reading.chunks),
        "seconds": seconds,
        "ms_per_1k_tokens": 1000 * seconds / reading.tokens_read * 1000,
        "cpu_seconds": cpu,
        "cpu_ms_per_1k_tokens": 1000 * cpu / reading.tokens_read * 1000,
        "rss_before_mb": before_kb / 1024,
        "peak_rss_mb": peak_kb / 1024,
        "memory_tokens_used": reading.memory_tokens_used,
        "embedder": model.model_id,
        "embedder_cached_words": _cached_words(),
    }


def _cpu_seconds() -> float:
    """User plus system CPU time of this process: less disturbed by other jobs than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cached_words() -> int:
    """Words in the hashing embedder's per-word LRU cache (at most 65,536): the part of the
    peak RSS that grows with the vocabulary seen, up to that bound, rather than with the input."""
    from memoryspace.embed import hashing

    return int(hashing.word_codes.cache_info().currsize)


def _child(send: Any, path: Path, tokens: int, options: dict[str, Any]) -> None:
    send.send(run_size(path, tokens, **options))
    send.close()


def run(
    paths: list[Path],
    sizes: list[int],
    *,
    chunk_tokens: int = 2048,
    memory_tokens: int = 1024,
    question: str | None = DEFAULT_QUESTION,
    embedder: str = "hashing",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Every (file, size) in its own child process; rows plus a linear fit per file.

    Raises:
        InvalidInput: a file that does not exist.
        BackendUnavailable: a child process died.
    """
    for path in paths:
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file; pass --data with a text file")
    options = {
        "chunk_tokens": chunk_tokens,
        "memory_tokens": memory_tokens,
        "question": question,
        "embedder": embedder,
    }
    context = multiprocessing.get_context("spawn")
    rows: list[dict[str, Any]] = []
    for path in paths:
        for done, size in enumerate(sorted(sizes)):
            if progress is not None:
                progress(path.name, done, len(sizes))
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_child, args=(send, path, size, options))
            child.start()
            send.close()
            try:
                rows.append(receive.recv())
            except EOFError:
                child.join()
                raise BackendUnavailable(
                    f"the read of {size:,} tokens of {path.name} died (exit code "
                    f"{child.exitcode}); a negative code is the signal that ended it"
                ) from None
            child.join()
        if progress is not None:
            progress(path.name, len(sizes), len(sizes))
    return {
        "benchmark": "read-scaling",
        "question": question,
        "chunk_tokens": chunk_tokens,
        "memory_tokens": memory_tokens,
        "rows": rows,
        "fits": [fit(path.name, [r for r in rows if r["data"] == path.name]) for path in paths],
    }


def fit(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Least squares ``seconds = a + b * tokens`` for wall and CPU time: slope in ms per 1k
    tokens, R², and the spread of the per-size time per 1k tokens around its median."""
    out: dict[str, Any] = {"data": name, "sizes": len(rows)}
    xs = [float(r["tokens"]) for r in rows]
    for prefix, seconds, per_1k in (
        ("", "seconds", "ms_per_1k_tokens"),
        ("cpu_", "cpu_seconds", "cpu_ms_per_1k_tokens"),
    ):
        ys = [float(r[seconds]) for r in rows]
        if len(set(xs)) >= 2:
            mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
            sxx = sum((x - mean_x) ** 2 for x in xs)
            slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
            intercept = mean_y - slope * mean_x
            residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
            total = sum((y - mean_y) ** 2 for y in ys)
            out[f"{prefix}slope_ms_per_1k"] = slope * 1e6
            out[f"{prefix}intercept_s"] = intercept
            out[f"{prefix}r2"] = 1 - residual / total if total else 1.0
        values = [float(r[per_1k]) for r in rows]
        if values:
            median = statistics.median(values)
            out[f"{prefix}spread"] = (
                max(abs(v - median) for v in values) / median if median else 0.0
            )
    if rows:
        out["peak_rss_min_mb"] = min(float(r["peak_rss_mb"]) for r in rows)
        out["peak_rss_max_mb"] = max(float(r["peak_rss_mb"]) for r in rows)
    return out


def plot(doc: dict[str, Any], path: Path) -> Path:
    """Three panels against tokens read, one colour per file: wall (circles) and CPU
    (triangles) seconds, log-log; ms per 1k tokens; peak RSS.

    Raises:
        InvalidInput: no rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = doc["rows"]
    if not rows:
        raise InvalidInput("no benchmark rows to plot")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, (seconds, per_1k, rss) = plt.subplots(1, 3, figsize=(14, 4.5))
    for number, fitted in enumerate(doc["fits"]):
        colour = f"C{number}"
        mine = [r for r in rows if r["data"] == fitted["data"]]
        xs = [r["tokens"] for r in mine]
        name = fitted["data"]
        seconds.loglog(xs, [r["seconds"] for r in mine], "o-", color=colour, label=f"{name} wall")
        seconds.loglog(
            xs, [r["cpu_seconds"] for r in mine], "^:", color=colour, label=f"{name} CPU"
        )
        per_1k.semilogx(
            xs, [r["ms_per_1k_tokens"] for r in mine], "o-", color=colour, label=f"{name} wall"
        )
        per_1k.semilogx(
            xs, [r["cpu_ms_per_1k_tokens"] for r in mine], "^:", color=colour, label=f"{name} CPU"
        )
        rss.semilogx(xs, [r["peak_rss_mb"] for r in mine], "s-", color=colour, label=name)
    seconds.set_title("time to read")
    seconds.set_ylabel("seconds")
    per_1k.set_title("cost per 1k tokens")
    per_1k.set_ylabel("ms per 1k tokens")
    per_1k.set_ylim(bottom=0)
    rss.set_title("peak RSS of the reading process")
    rss.set_ylabel("MB")
    rss.set_ylim(bottom=0)
    for axes in (seconds, per_1k, rss):
        axes.set_xlabel("tokens read")
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
