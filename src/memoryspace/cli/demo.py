"""``memoryspace demo ...``: small demonstrations that run offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from memoryspace.cli.common import emit

demo = typer.Typer(
    help="The tour `make demo` runs (with no subcommand), and other offline demonstrations.",
    invoke_without_command=True,
)


@demo.callback()
def tour(
    ctx: typer.Context,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the demo database (and say where it is).")
    ] = False,
    embedder: Annotated[
        str,
        typer.Option(
            "--embedder",
            envvar="MEMORYSPACE_EMBEDDER",
            help="auto (MiniLM when installed), minilm or hashing.",
        ),
    ] = "auto",
) -> None:
    """Ingest a bundled conversation, search it, edit, checkpoint, forget and restore, offline.

    The database lives in a temporary folder, removed at the end unless --keep is given.
    """
    if ctx.invoked_subcommand is None:
        from memoryspace.demo.__main__ import run

        run(keep=keep, embedder=embedder)


@demo.command("persona")
def persona(
    data: Annotated[Path, typer.Option("--data", help="MemoryBank JSON (memory_bank_en.json).")],
    embedder: Annotated[
        str, typer.Option("--embedder", help="auto (MiniLM when installed), minilm or hashing.")
    ] = "hashing",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines, one per user.")
    ] = False,
) -> None:
    """What a MemoryOS-style conversation learns about each MemoryBank user, offline."""
    from memoryspace.demo.persona import learn_personas, load_memorybank, render

    learned = learn_personas(load_memorybank(data), embedder=embedder)
    if as_json:
        for item in learned:
            emit(item.to_dict())
        return
    sys.stdout.write(render(learned) + "\n")
