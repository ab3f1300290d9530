"""The scale benchmark's cost curve: search latency and disk per memory against n (log x)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memoryspace.errors import InvalidInput

_LATENCIES = (
    ("hybrid_p50_ms", "hybrid p50", "-"),
    ("hybrid_p99_ms", "hybrid p99", "--"),
    ("bm25_p99_ms", "BM25 p99", ":"),
    ("dense_p50_ms", "dense p50", "-."),
)


def plot_cost_curve(rows: list[dict[str, Any]], path: Path) -> Path:
    """Two panels, one line per system and metric: latency (ms) and bytes per memory by n.

    Raises:
        InvalidInput: no measured rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [row for row in rows if "add_per_s" in row]
    if not measured:
        raise InvalidInput("no measured rows to plot")
    systems = list(dict.fromkeys(str(row["system"]) for row in measured))
    figure, (latency, disk) = plt.subplots(1, 2, figsize=(12, 4.5))
    for index, system in enumerate(systems):
        mine = sorted((r for r in measured if r["system"] == system), key=lambda r: r["n"])
        colour = f"C{index}"
        for metric, name, style in _LATENCIES:
            points = [(r["n"], r[metric]) for r in mine if r.get(metric) is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                latency.plot(xs, ys, style, marker="o", color=colour, label=f"{system} {name}")
        points = [
            (r["n"], r["disk_bytes_per_memory"]) for r in mine if r.get("disk_bytes_per_memory")
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            disk.plot(xs, ys, "-", marker="o", color=colour, label=system)
    for axes, title, unit in (
        (latency, "search latency (query embedding excluded)", "ms"),
        (disk, "disk per memory", "bytes"),
    ):
        axes.set_xscale("log")
        axes.set_xlabel("memories (n)")
        axes.set_ylabel(unit)
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    latency.set_yscale("log")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
