"""Export and import: memories as JSON lines that re-import cleanly, anywhere.

``export_records`` writes each memory's ``add`` fields with its ``id`` (GC state and access
counters belong to the space, not to the export). ``import_records`` is idempotent: a record
whose ``id`` the space holds is skipped, replaced or refused (``on_conflict``); other records
are added, and ``add``'s deduplication (``memoryspace.dedupe``) folds contents the space already
holds. So importing a file twice, or an export into its own database, changes nothing.
``read_records`` reads JSON lines of ``add`` records, a JSON list of them, or LoCoMo JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from memoryspace.datasets.locomo import conversation_from_json, is_locomo, locomo_records
from memoryspace.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from memoryspace.models import Memory
    from memoryspace.space import MemorySpace

OnConflict = Literal["skip", "replace", "error"]
ON_CONFLICT: tuple[OnConflict, ...] = ("skip", "replace", "error")
# What ``replace`` may change in a stored memory: ``update``'s fields that an export carries.
REPLACEABLE = (
    "content",
    "kind",
    "user",
    "agent",
    "session",
    "meta",
    "tags",
    "links",
    "importance",
    "pinned",
    "valid_from",
    "valid_to",
)
# Per-space state that an export leaves out.
_NOT_EXPORTED = (
    "access_count",
    "last_access",
    "version",
    "updated_at",
    "tokens",
    "generation",
    "archived",
    "expires_at",
)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: records read, added, folded into a memory with the same content
    (``deduplicated``), skipped or replaced because their id was taken, and the space's size."""

    imported: int
    added: int
    deduplicated: int
    skipped: int
    replaced: int
    memories: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def export_record(memory: Memory) -> dict[str, Any]:
    """``memory`` as an ``add`` record with its id (``timestamp`` is its creation time)."""
    record = memory.to_dict()
    for name in _NOT_EXPORTED:
        record.pop(name)
    record["timestamp"] = record.pop("created_at")
    if record["valid_from"] == record["timestamp"]:
        record.pop("valid_from")
    return record


def export_records(space: MemorySpace, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every memory matching ``filters``, oldest first, as ``add`` records with ids."""
    for memory in space.scan(**filters):
        yield export_record(memory)


def import_records(
    space: MemorySpace,
    records: Sequence[Mapping[str, Any]],
    *,
    on_conflict: OnConflict = "skip",
    batch: int = 256,
    actor: str | None = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Add ``records`` (``add``'s fields) ``batch`` per transaction; see the module docstring.

    ``on_conflict`` says what a record whose ``id`` is taken does: ``"skip"`` (keep the stored
    memory), ``"replace"`` (update the stored memory's fields to the record's; unchanged
    memories are not touched) or ``"error"``. ``progress`` is called with each batch's size.

    Raises:
        InvalidInput: a bad record, ``on_conflict`` or ``batch``; earlier batches stay added.
        Conflict: ``on_conflict="error"`` and a record's id is taken.
    """
    if on_conflict not in ON_CONFLICT:
        raise InvalidInput(f"on_conflict is one of {', '.join(ON_CONFLICT)}, not {on_conflict!r}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidInput(f"batch must be a positive integer, got {batch!r}")
    added = deduplicated = skipped = replaced = 0
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        taken = _taken_ids(space, chunk)
        new: list[Mapping[str, Any]] = []
        clashes: list[Mapping[str, Any]] = []
        for record in chunk:
            id = record.get("id")
            if id and str(id) in taken:
                clashes.append(record)
            else:
                new.append(record)
                if id:
                    taken.add(str(id))  # a second record with that id in this file clashes
        if clashes and on_conflict == "error":
            ids = ", ".join(repr(str(r["id"])) for r in clashes[:3])
            raise Conflict(
                f"{len(clashes)} record(s) carry ids the space holds ({ids}); "
                "skip them or replace the stored memories instead"
            )
        folded = _deduplicated(space)
        space.add_many(new, actor=actor)
        folded = _deduplicated(space) - folded
        added += len(new) - folded
        deduplicated += folded
        for record in clashes:
            if on_conflict == "replace" and _replace(space, record, actor):
                replaced += 1
            else:
                skipped += 1
        if progress is not None:
            progress(len(chunk))
    return ImportResult(len(records), added, deduplicated, skipped, replaced, space.count())


def _deduplicated(space: MemorySpace) -> int:
    """How many adds this handle has folded into existing memories so far."""
    return int(space.stats()["counters"].get("deduplicated", 0))


def _ids(records: Sequence[Mapping[str, Any]]) -> set[str]:
    return {str(r["id"]) for r in records if r.get("id")}


def _taken_ids(space: MemorySpace, records: Sequence[Mapping[str, Any]]) -> set[str]:
    """The ids among ``records`` that name a memory the space holds."""
    return {m.id for m in space.store.get_many(sorted(_ids(records)))}


def _replace(space: MemorySpace, record: Mapping[str, Any], actor: str | None) -> bool:
    """Make the stored memory say what ``record`` says; False when it already does."""
    current = space.get(str(record["id"])).to_dict()
    changes = {
        name: record[name]
        for name in REPLACEABLE
        if name in record and _plain(record[name]) != _plain(current[name])
    }
    if not changes:
        return False
    space.update(str(record["id"]), actor=actor, **changes)
    return True


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records to add from ``path``: LoCoMo JSON, or JSON lines (or a JSON list) of ``add``
    fields. LoCoMo turns get ids (``<sample_id>/<dia_id>``) so a second import skips them.

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
            return [
                {**r, "id": f"{r['user']}/{r['meta']['dia_id']}"}
                for s in samples
                for r in locomo_records(conversation_from_json(s))
            ]
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
