"""What the benchmark commands share: their options, progress bars on stderr, and how each
ends (a CSV, maybe a PNG, then one JSON document or a table)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from memoryspace.cli.common import errors
from memoryspace.errors import InvalidInput

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

Data = Annotated[Path, typer.Option("--data", help="The data set file.", show_default=False)]
BenchEmbedder = Annotated[
    str, typer.Option("--embedder", help="auto (MiniLM when installed), minilm or hashing.")
]
Out = Annotated[Path | None, typer.Option(help="Write a CSV and a PNG chart in this folder.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def ints(text: str, option: str, minimum: int) -> list[int]:
    """The comma-separated integers ``option`` was given, sorted without repeats.

    Raises:
        InvalidInput: not integers, none, or one below ``minimum``.
    """
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            f"{option} takes comma-separated integers like 5,10; got {text!r}"
        ) from None
    if not values or min(values) < minimum:
        raise InvalidInput(f"{option} needs integers of at least {minimum}; got {text!r}")
    return sorted(set(values))


@contextmanager
def progress_bars(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A callback ``(mode, done, total)`` drawing one rich progress bar per mode on stderr."""
    from rich.progress import Progress

    with Progress(console=errors, disable=quiet, transient=False) as progress:
        tasks: dict[str, TaskID] = {}

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        yield update


def table_console() -> Console:
    """stdout; when it is not a terminal (a file, a pipe), wide enough for the tables."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=140)


def emit_doc(doc: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")


def report(
    doc: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    name: str,
    title: str,
    out: Path | None,
    as_json: bool,
    plot: Callable[[Path], object] | None = None,
    table: list[dict[str, Any]] | None = None,
) -> None:
    """How every benchmark ends: ``name``.csv of ``rows`` (and ``name``.png from ``plot``) in
    ``out``, then exactly one JSON document (``doc``) or a table (``table``, default ``rows``)."""
    from memoryspace.bench.report import print_table, write_csv

    if out is not None:
        write_csv(out / f"{name}.csv", rows)
        written = [out / f"{name}.csv"]
        if plot is not None:
            plot(out / f"{name}.png")
            written.append(out / f"{name}.png")
        errors.print("wrote " + " and ".join(str(path) for path in written))
    if as_json:
        emit_doc(doc)
    else:
        print_table(title, rows if table is None else table, table_console())
