"""Reading files for ``memoryspace import``: JSONL records or LoCoMo conversations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memoryspace.datasets.locomo import conversation_from_json, is_locomo, locomo_records
from memoryspace.errors import InvalidInput


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records to add from ``path``: LoCoMo JSON, or JSON lines of ``add`` fields.

    Raises:
        InvalidInput: the file cannot be read or a line is not a JSON object.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # JSON lines, probably
        if whole is not None and is_locomo(whole):
            samples = whole if isinstance(whole, list) else [whole]
            return [r for s in samples for r in locomo_records(conversation_from_json(s))]
        if isinstance(whole, list):
            return [_record(item, n) for n, item in enumerate(whole, 1)]
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(_record(json.loads(line), number))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{number}: not JSON ({exc.msg})") from None
    return records


def _record(item: object, number: int) -> dict[str, Any]:
    if isinstance(item, str):
        return {"content": item}
    if not isinstance(item, dict) or "content" not in item:
        raise InvalidInput(f"record {number} must be an object with 'content'")
    return item
