"""Portable checkpoints: a checkpoint's state in one backend-neutral file, restorable anywhere.

``export_checkpoint`` writes the state at a checkpoint's LSN (every record, archived and
expired ones too, with its vector, and the settings that must travel with the vectors: the
embedder and the shared settings) as gzip-compressed JSON lines: a header line (format name,
``VERSION``, the checkpoint, the source backend and database id, the settings), one line per
record (its logged state, its float32 vector in base64, and the SHA-256 of both), and a last
line with the record count and a SHA-256 over the records' hashes, so a truncated or edited
file is refused. ``import_checkpoint`` makes a store's live state equal to the file's,
logged as ordinary changes (adds, updates, deletes; as ``restore`` does), so it can be undone,
on SQLite and PostgreSQL alike.

The log does not travel. A checkpoint is a state; the target keeps its own log, in which the
import is one more set of changes (LSNs of another database cannot be spliced into it), and
history that was erased at the source must not come back through a file. A full copy with
its history is ``memoryspace migrate`` (``store.migrate``), which replays the log.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memoryspace.errors import Conflict, InvalidInput
from memoryspace.models import Change, Filter, Memory
from memoryspace.store import timetravel
from memoryspace.store.base import Store, Vector
from memoryspace.store.codec import PRECISION_SETTING, state_json
from memoryspace.store.failures import from_os
from memoryspace.store.sqlite import SQLiteStore

FORMAT = "memoryspace-checkpoint"
VERSION = 1
EMBEDDER_SETTINGS = ("embedder.model_id", "embedder.dimension")
_EVERYTHING = Filter(include_archived=True, include_expired=True)


@dataclass(frozen=True, slots=True)
class PortableCheckpoint:
    """A checkpoint read back from its file (hashes checked)."""

    name: str
    lsn: int
    created_at: float
    source: Mapping[str, Any]
    settings: Mapping[str, str]
    records: list[tuple[Memory, Vector | None]] = field(repr=False)

    @property
    def digest(self) -> str:
        """The SHA-256 over the records' hashes, as in the file."""
        return _digest(_record_hash(m, v) for m, v in self.records)


def export_checkpoint(
    store: Store, name: str, path: str | os.PathLike[str], *, setting_keys: Sequence[str] = ()
) -> PortableCheckpoint:
    """Write checkpoint ``name``'s state to ``path`` (replaced atomically); ``setting_keys``
    are the settings besides the embedder's that travel.

    Raises:
        NotFound: no checkpoint of that name.
        Conflict, BackendUnavailable: the checkpoint is another database's, or damaged.
        DiskFull, ReadOnly, InvalidInput: ``path`` cannot be written.
    """
    checkpoint = timetravel.find(store, name)
    timetravel.check_usable(checkpoint)
    settings = {
        key: value
        for key in (*EMBEDDER_SETTINGS, *setting_keys)
        if (value := store.get_setting(key)) is not None
    }
    view = store.as_of(checkpoint.lsn)
    try:
        records = list(_records(view))
    finally:
        view.close()
    exported = PortableCheckpoint(
        name=checkpoint.name,
        lsn=checkpoint.lsn,
        created_at=checkpoint.created_at,
        source={"backend": _backend(store), "database_id": store.database_id},
        settings=settings,
        records=records,
    )
    _write(exported, Path(path))
    return exported


def read_checkpoint(path: str | os.PathLike[str]) -> PortableCheckpoint:
    """The checkpoint in the file at ``path``, every hash checked.

    Raises:
        InvalidInput: not a portable checkpoint, a newer format, or damaged (a hash differs,
            records are missing or the file is cut short).
    """
    where = Path(path)
    try:
        with gzip.open(where, "rt", encoding="utf-8") as lines:
            header, *body = (json.loads(line) for line in lines)
    except (OSError, EOFError, zlib.error, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise from_os(exc, str(where), "reading a portable checkpoint") from exc
        raise InvalidInput(
            f"{where} is not a readable portable checkpoint ({exc}); give a file written by "
            "export_checkpoint (memoryspace export-checkpoint)"
        ) from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(f"{where} is not a portable checkpoint (no {FORMAT!r} header)")
    if header.get("version") != VERSION:
        raise InvalidInput(
            f"{where} is format version {header.get('version')}, this MemorySpace reads "
            f"version {VERSION}; upgrade MemorySpace to read it"
        )
    if not body or "records" not in body[-1]:
        raise InvalidInput(f"{where} is cut short (no closing line); export it again")
    trailer, lines_of_records = body[-1], body[:-1]
    records = [_record(item, where) for item in lines_of_records]
    if len(records) != trailer["records"]:
        raise InvalidInput(
            f"{where} holds {len(records)} records, its last line says {trailer['records']}; "
            "the file is damaged: export it again"
        )
    checkpoint = header["checkpoint"]
    found = PortableCheckpoint(
        name=str(checkpoint["name"]),
        lsn=int(checkpoint["lsn"]),
        created_at=float(checkpoint["created_at"]),
        source=dict(header["source"]),
        settings={str(k): str(v) for k, v in header["settings"].items()},
        records=records,
    )
    if found.digest != trailer["sha256"]:
        raise InvalidInput(f"{where} is damaged (its records' digest differs); export it again")
    return found


def import_checkpoint(
    store: Store, path: str | os.PathLike[str], *, actor: str | None = None
) -> list[Change]:
    """Make ``store``'s live state equal to the checkpoint in the file at ``path``: its records
    added, changed or deleted as logged changes in one transaction; its settings written.

    Raises:
        InvalidInput: the file is not a sound portable checkpoint.
        Conflict: the store holds vectors of another embedder than the file's.
        ReadOnly: a read-only view.
    """
    portable = read_checkpoint(path)
    model = store.get_setting("embedder.model_id")
    theirs = portable.settings.get("embedder.model_id")
    if model is not None and theirs is not None and model != theirs:
        raise Conflict(
            f"the checkpoint holds vectors of {theirs!r}, this database of {model!r}; import "
            "it into a database of that embedder (or a new one), or re-embed one of them"
        )
    past = SQLiteStore(":memory:")
    try:
        who = actor or f"import:{portable.name}@{portable.lsn}"
        store.flush()
        changes: list[Change] = []
        with store.transaction():
            for key, value in portable.settings.items():
                if store.get_setting(key) != value:
                    store.set_setting(key, value)
            # The file's vectors as the target will keep them, so that importing a file twice
            # finds nothing to change (float32 vectors into a float16 database are rounded).
            past.set_setting(PRECISION_SETTING, json.dumps(_kept_precision(store)))
            past.insert(portable.records)
            live = {m.id for m in store.scan(_EVERYTHING)}
            for id in sorted(live | {m.id for m, _ in portable.records}):
                changes.extend(timetravel.converge(store, past, id, who))
    finally:
        past.close()
    return changes


def _kept_precision(store: Store) -> str:
    """How ``store`` keeps vectors: a SQLite database (under its hot tier, if any) at its
    ``shared.vector_precision``, any other backend as float32."""
    database = getattr(store, "backing", store)
    return database.vector_precision if isinstance(database, SQLiteStore) else "float32"


def _records(view: Store) -> Iterator[tuple[Memory, Vector | None]]:
    memories = sorted(view.scan(_EVERYTHING), key=lambda m: m.id)
    keys = {m.id: view.key_of(m.id) for m in memories}
    vectors = view.vectors(list(keys.values()))
    for memory in memories:
        yield memory.evolve(access_count=0, last_access=None), vectors.get(keys[memory.id])


def _backend(store: Store) -> str:
    return "sqlite" if isinstance(store, SQLiteStore) else type(store).__name__


def _record_hash(memory: Memory, vector: Vector | None) -> str:
    digest = hashlib.sha256((state_json(memory) or "").encode())
    digest.update(b"" if vector is None else np.asarray(vector, dtype="<f4").tobytes())
    return digest.hexdigest()


def _digest(hashes: Iterator[str]) -> str:
    digest = hashlib.sha256()
    for one in hashes:
        digest.update(one.encode())
    return digest.hexdigest()


def _write(portable: PortableCheckpoint, path: Path) -> None:
    header = {
        "format": FORMAT,
        "version": VERSION,
        "checkpoint": {
            "name": portable.name,
            "lsn": portable.lsn,
            "created_at": portable.created_at,
        },
        "source": dict(portable.source),
        "settings": dict(portable.settings),
    }
    partial = path.with_name(path.name + ".partial")
    try:
        with gzip.open(partial, "wt", encoding="utf-8") as out:
            out.write(json.dumps(header, sort_keys=True) + "\n")
            for memory, vector in portable.records:
                line = {
                    "memory": json.loads(state_json(memory) or "null"),
                    "vector": None
                    if vector is None
                    else base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode(),
                    "sha256": _record_hash(memory, vector),
                }
                out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            trailer = {"records": len(portable.records), "sha256": portable.digest}
            out.write(json.dumps(trailer) + "\n")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise from_os(exc, str(path), "writing a portable checkpoint") from exc


def _record(item: Any, where: Path) -> tuple[Memory, Vector | None]:
    try:
        memory = Memory.from_dict(item["memory"])
        raw = item["vector"]
        vector = (
            None
            if raw is None
            else np.frombuffer(base64.b64decode(raw), dtype="<f4").astype(np.float32)
        )
        expected = str(item["sha256"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{where} holds a malformed record ({exc}); export it again") from exc
    if _record_hash(memory, vector) != expected:
        raise InvalidInput(f"{where}: record {memory.id!r} is damaged (hash differs)")
    return memory, vector
