"""``memoryspace config ...``: the shared settings a database stores for every process."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from memoryspace.cli.common import DEFAULT_DB, Db, Embedder, Json, console, emit, opened
from memoryspace.settings import SHARED_SETTINGS, Settings, setting_key, shared_values

config = typer.Typer(
    help="Settings stored in the database, which every process that opens it uses.",
    no_args_is_help=True,
)


@config.command("show")
def show(db: Db = DEFAULT_DB, embedder: Embedder = "auto", as_json: Json = False) -> None:
    """Each shared setting: the value in force, and whether the database stores it."""
    with opened(db, embedder) as ms:
        values = shared_values(ms.settings)
        stored = {name: ms.store.get_setting(setting_key(name)) is not None for name in values}
    if as_json:
        emit({"settings": values, "stored": sorted(n for n, s in stored.items() if s)})
        return
    defaults = shared_values(Settings())
    table = Table("setting", "value", "from")
    for name, value in values.items():
        origin = "database" if stored[name] else "default"
        table.add_row(name, json.dumps(value), origin if value != defaults[name] else "default")
    console.print(table)


@config.command("set")
def set_(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SHARED_SETTINGS)}.")],
    value: Annotated[str, typer.Argument(help="A number, a word, or null.")],
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    as_json: Json = False,
) -> None:
    """Store a shared setting (creating the database if needed); processes that open the
    database from now on use it."""
    with opened(db, embedder, create=True) as ms:
        now = ms.configure(**{name: parse_value(value)})
    if as_json:
        emit({"settings": shared_values(now)})
    else:
        console.print(f"{name} = {json.dumps(getattr(now, name))} (stored in {db})")


def parse_value(text: str) -> Any:
    """A JSON number, ``null``, ``true``/``false``, or else the text itself (a name)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
