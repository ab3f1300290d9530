"""Saving a vector index beside the database, and loading it back only when it is trustworthy.

The index is derived state: the store is the source of truth. So ``load_index`` never raises. It
returns ``None`` for anything it cannot vouch for (missing, another model, dimension or format,
truncated, checksum mismatch), and the caller rebuilds from the store, then replays the operation
log from the LSN the saved index was stamped with.

On disk, ``path`` (e.g. ``memory.db.vectors``) is a small JSON manifest: format version, kind,
dimension, model id, database id, count, LSN, HNSW options and precision (float32 when a
manifest predates the field), and the name, size and SHA-256 of
the payload file beside it, ``<name>.<16 hex>.<kind>``. Exact payloads are the int64 keys then
the float32 or float16 matrix (the manifest's precision), little-endian, read back as float32;
HNSW payloads are usearch's own file.

A save is crash-safe: the payload goes to a new name and the manifest is replaced atomically
(temp file in the same directory, fsync, ``os.replace``, fsync of the directory) only after the
payload is durable. The manifest replace is the commit point, so a crash at any moment leaves the
old index or the new one; the superseded payload and any crash leftovers are deleted after the
commit. Saves to one path from several processes take turns on an advisory lock
(``<path>.lock``, POSIX ``flock``). Loads take no lock: committed payloads never change, and a
load whose payload a concurrent save has just swept away returns ``None``.

HNSW payloads are loaded fully into memory, not memory-mapped (``view=True``): the checksum must
read the whole file anyway, the loaded index is written to right away (catching up from the log)
and a usearch view is read-only, and a mapped file would pin the old payload while the next save
tries to delete it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from memoryspace.errors import InvalidInput
from memoryspace.index.adaptive import DEFAULT_ANN_THRESHOLD, AdaptiveIndex
from memoryspace.index.exact import ExactIndex, ExactSnapshot
from memoryspace.index.hnsw import (
    DEFAULT_PRECISION,
    HNSWIndex,
    check_hnsw_options,
    check_precision,
)

FORMAT = "memoryspace.vector-index"
FORMAT_VERSION = 1
_MAX_MANIFEST_BYTES = 64 * 1024
_CHUNK = 1 << 20
_EXACT_DTYPES = {"float32": "<f4", "float16": "<f2"}  # an exact payload's vectors on disk
_logger = logging.getLogger(__name__)


class _Stale(Exception):
    """The saved index is intact but not for this model, dimension or format."""


class _Foreign(_Stale):
    """The saved index was built from another database (copied in, or the database replaced)."""


def save_index(
    index: AdaptiveIndex | ExactIndex | ExactSnapshot | HNSWIndex,
    path: str | os.PathLike[str],
    *,
    lsn: int,
    model_id: str,
    database_id: str | None = None,
    precision: str | None = None,
) -> None:
    """Persist ``index`` at ``path``, stamped with the ``lsn`` it reflects, the embedding model
    and the id of the database it was built from. An exact index's vectors are written at
    ``precision`` (an ``AdaptiveIndex``'s own when ``None``, else float32): float16 halves the
    file and loses nothing when the vectors came from a float16 database (they are float16
    values already); an HNSW graph keeps its own precision.

    An ``AdaptiveIndex`` is held still (its lock) while its payload is written; to save
    without holding it, pass its ``frozen()`` copy (what ``SyncedIndex.save_in_background``
    does).

    Raises:
        InvalidInput: ``lsn`` is negative or ``model_id`` is empty.
        OSError: the directory cannot be written (the previous index, if any, is untouched).
    """
    if isinstance(lsn, bool) or not isinstance(lsn, int) or lsn < 0:
        raise InvalidInput(f"lsn must be an integer ≥ 0, got {lsn!r}")
    if not isinstance(model_id, str) or not model_id:
        raise InvalidInput("model_id must be a non-empty string naming the embedding model")
    if precision is None:
        precision = index.precision if isinstance(index, AdaptiveIndex) else DEFAULT_PRECISION
    precision = check_precision(precision)
    target = Path(path)
    with _exclusive(target):  # processes sharing a database save one at a time
        if isinstance(index, AdaptiveIndex):
            with index.locked() as backend:
                manifest = _write_payload(backend, target, precision)
        else:
            manifest = _write_payload(index, target, precision)
        manifest.update(
            format=FORMAT,
            version=FORMAT_VERSION,
            lsn=lsn,
            model_id=model_id,
            database_id=database_id,
        )
        try:
            _write_atomically(target, json.dumps(manifest, indent=2, sort_keys=True).encode())
        except BaseException:
            (target.parent / manifest["payload"]).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)
        _remove_leftovers(target, keep=manifest["payload"])


@contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    """An advisory lock on ``<target>.lock``: without it, one process's clean-up would delete
    the payload or temp file another process is still writing."""
    with open(target.with_name(target.name + ".lock"), "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def load_index(
    path: str | os.PathLike[str],
    *,
    dimension: int,
    model_id: str,
    database_id: str | None = None,
    ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    precision: str = DEFAULT_PRECISION,
    **hnsw_options: int,
) -> tuple[AdaptiveIndex, int] | None:
    """The index saved at ``path`` and the LSN it reflects, or ``None`` if it cannot be trusted.

    ``None`` when the files are missing, written for another model, dimension or format version,
    built from another database than ``database_id`` (when given; logged as a warning),
    truncated, or fail the checksum: rebuild from the store then; a bad file never raises. A loaded
    exact index switches to HNSW (built with ``hnsw_options`` at ``precision``) past
    ``ann_threshold``; a loaded HNSW index keeps the options it was built with, but one stored at
    another ``precision`` is stale (``None``: the setting changed, so the graph is rebuilt).

    Raises:
        InvalidInput: a bad ``ann_threshold``, HNSW option or precision (a caller's bug, not
            the file's).
    """
    # check the settings first
    AdaptiveIndex(
        1, ann_threshold=ann_threshold, background=True, precision=precision, **hnsw_options
    )
    target = Path(path)
    try:
        backend, lsn = _load(target, dimension, model_id, database_id, precision)
        index = AdaptiveIndex.wrap(
            backend,
            ann_threshold=ann_threshold,
            background=True,
            precision=precision,
            **hnsw_options,
        )
        return index, lsn
    except FileNotFoundError:
        _logger.debug("no vector index at %s; rebuilding from the store", target)
    except _Foreign as reason:
        _logger.warning("vector index at %s is %s; rebuilding from the store", target, reason)
    except _Stale as reason:
        _logger.info("vector index at %s is stale (%s); rebuilding from the store", target, reason)
    except Exception as error:  # the index is derived state: any doubt means rebuild
        _logger.warning("vector index at %s is unusable (%r); rebuilding", target, error)
    return None


def _write_payload(
    backend: ExactIndex | ExactSnapshot | HNSWIndex, target: Path, precision: str
) -> dict[str, Any]:
    """Write ``backend`` durably to a new payload file beside ``target``; its manifest fields."""
    kind = "hnsw" if isinstance(backend, HNSWIndex) else "exact"
    payload = target.with_name(f"{target.name}.{secrets.token_hex(8)}.{kind}")
    temporary = _temporary_path(target)
    manifest: dict[str, Any] = {"kind": kind, "dimension": backend.dimension, "count": len(backend)}
    try:
        if not isinstance(backend, HNSWIndex):
            digest = hashlib.sha256()
            keys, vectors = backend.export()
            stored = np.dtype(_EXACT_DTYPES[precision])
            with open(temporary, "xb") as file:
                for array in (keys, vectors.astype(stored, copy=False)):
                    little_endian = array.astype(array.dtype.newbyteorder("<"), copy=False)
                    raw = np.ascontiguousarray(little_endian).reshape(-1).view(np.uint8).data
                    digest.update(raw)
                    file.write(raw)
                file.flush()
                os.fsync(file.fileno())
            checksum = digest.hexdigest()
            manifest["precision"] = precision
        else:
            backend.save(temporary)
            checksum = _sha256_of(temporary, fsync=True)
            manifest["hnsw_options"] = backend.options
            manifest["precision"] = backend.precision
        manifest.update(
            payload=payload.name, payload_bytes=temporary.stat().st_size, sha256=checksum
        )
        os.replace(temporary, payload)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return manifest


def _load(
    target: Path,
    dimension: int,
    model_id: str,
    database_id: str | None,
    precision: str = DEFAULT_PRECISION,
) -> tuple[ExactIndex | HNSWIndex, int]:
    if target.stat().st_size > _MAX_MANIFEST_BYTES:
        raise ValueError("manifest is implausibly large")
    manifest = json.loads(target.read_bytes())
    if not isinstance(manifest, dict):
        raise ValueError("manifest is not a JSON object")
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise _Stale(f"format {manifest.get('format')!r} v{manifest.get('version')!r}")
    if _field(manifest, "dimension", int) != dimension:
        raise _Stale(f"dimension {manifest['dimension']}, expected {dimension}")
    if _field(manifest, "model_id", str) != model_id:
        raise _Stale(f"model {manifest['model_id']!r}, expected {model_id!r}")
    if database_id is not None and manifest.get("database_id") != database_id:
        if manifest.get("database_id") is None:
            raise _Stale("saved before indexes carried a database id")
        raise _Foreign(
            f"from another database (id {manifest['database_id']!r}, not {database_id!r})"
        )
    kind = _field(manifest, "kind", str)
    stored_precision = manifest.get("precision", DEFAULT_PRECISION)
    if kind == "hnsw" and stored_precision != precision:
        raise _Stale(f"vectors stored as {stored_precision!r}, the setting is {precision!r}")
    count, lsn = _field(manifest, "count", int), _field(manifest, "lsn", int)
    if count < 0 or lsn < 0:
        raise ValueError(f"manifest has a negative count ({count}) or LSN ({lsn})")
    name = _field(manifest, "payload", str)
    if not _payload_pattern(target).fullmatch(name) or not name.endswith(f".{kind}"):
        raise ValueError(f"manifest names an unexpected payload {name!r}")
    payload = target.parent / name
    if payload.stat().st_size != _field(manifest, "payload_bytes", int):
        raise ValueError("payload has the wrong size (truncated or overwritten)")
    backend: ExactIndex | HNSWIndex
    if kind == "exact":
        data = payload.read_bytes()
        if hashlib.sha256(data).hexdigest() != _field(manifest, "sha256", str):
            raise ValueError("payload fails its checksum")
        backend = _exact_from_bytes(data, count, dimension, check_precision(stored_precision))
    else:
        if _sha256_of(payload) != _field(manifest, "sha256", str):
            raise ValueError("payload fails its checksum")
        options = check_hnsw_options(**_field(manifest, "hnsw_options", dict))
        backend = HNSWIndex.load(
            payload, dimension, precision=check_precision(stored_precision), **options
        )
    if len(backend) != count:
        raise ValueError(f"payload holds {len(backend)} vectors, manifest says {count}")
    return backend, lsn


def _exact_from_bytes(data: bytes, count: int, dimension: int, precision: str) -> ExactIndex:
    stored = np.dtype(_EXACT_DTYPES[precision])
    if len(data) != count * (8 + stored.itemsize * dimension):
        raise ValueError("exact payload size does not match its count and dimension")
    keys = np.frombuffer(data, dtype="<i8", count=count)
    vectors = np.frombuffer(data, dtype=stored, count=count * dimension, offset=8 * count)
    index = ExactIndex(dimension)
    index.add(keys, vectors.reshape(count, dimension).astype(np.float32))
    return index


def _field(manifest: dict[str, Any], name: str, kind: type) -> Any:
    """``manifest[name]`` if it has type ``kind`` (a bool is not an int here)."""
    value = manifest.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"manifest field {name!r} is missing or not a {kind.__name__}")
    return value


def _payload_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(re.escape(target.name) + r"\.[0-9a-f]{16}\.(exact|hnsw)")


def _temporary_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")


def _sha256_of(path: Path, *, fsync: bool = False) -> str:
    """SHA-256 of the file at ``path``; with ``fsync``, also make it durable (usearch wrote it)."""
    digest = hashlib.sha256()
    with open(path, "r+b" if fsync else "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
        if fsync:
            os.fsync(file.fileno())
    return digest.hexdigest()


def _write_atomically(target: Path, content: bytes) -> None:
    temporary = _temporary_path(target)
    try:
        with open(temporary, "xb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (POSIX; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_leftovers(target: Path, *, keep: str) -> None:
    """Delete superseded payloads and temp files a crashed save left beside ``target``."""
    payloads = _payload_pattern(target)
    temporaries = re.compile(r"\." + re.escape(target.name) + r"\.[0-9a-f]{16}\.tmp")
    for entry in target.parent.iterdir():
        if entry.name != keep and (
            payloads.fullmatch(entry.name) or temporaries.fullmatch(entry.name)
        ):
            entry.unlink(missing_ok=True)
