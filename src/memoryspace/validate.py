"""Checks on what users hand the facade; each failure is an ``InvalidInput`` saying what to do."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from memoryspace.errors import InvalidInput

Vector = npt.NDArray[np.float32]


def content(value: object, *, limit: int) -> str:
    """Non-empty text within ``limit`` characters; bytes must be valid UTF-8."""
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"content is not valid UTF-8 ({exc.reason} at byte "
                f"{exc.start}); decode it with the right encoding first"
            ) from None
    if not isinstance(value, str):
        raise InvalidInput(f"content must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput("content is empty; a memory needs some text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "content holds unpaired surrogates, so it is not valid Unicode text; "
            "decode the source bytes with errors='replace' first"
        ) from None
    if "\x00" in value:
        raise InvalidInput("content holds a NUL character; strip it before storing")
    if len(value) > limit:
        raise InvalidInput(
            f"content is {len(value)} characters, over the limit of {limit}; split it into "
            "several memories or raise Settings.max_content_chars"
        )
    return value


def vector(value: Any, *, dimension: int) -> Vector:
    """A finite vector of the space's dimension, returned L2-normalised as float32."""
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidInput("vector must be a sequence of numbers") from None
    if array.ndim != 1 or array.shape[0] != dimension:
        raise InvalidInput(
            f"vector has shape {array.shape}; this space's embedder gives {dimension} dimensions"
        )
    if not np.all(np.isfinite(array)):
        raise InvalidInput("vector holds NaN or infinity; every component must be finite")
    norm = float(np.linalg.norm(array))
    if norm == 0.0:
        raise InvalidInput("vector is all zeros; it has no direction to compare by")
    return (array / norm).astype(np.float32)


def optional_time(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a Unix time in seconds, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be finite, got {value!r}")
    return float(value)


def ttl(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInput(f"ttl must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise InvalidInput("ttl must be finite; leave it None for memories that never expire")
    return float(value)


def importance(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(f"importance must be a number from 0 to 1, got {value!r}")
    return float(value)


def scope(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} must be a non-empty string or None, got {value!r}")
    return value


def strings(name: str, value: Iterable[object] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    items: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item:
            raise InvalidInput(f"{name} must be non-empty strings, got {item!r}")
        items.append(item)
    return tuple(items)


def links(value: object) -> tuple[Any, ...]:
    """Links as given: bare ids (kept as strings: whether one is a weak ``related`` link or a
    summary's strong source depends on the record's kind, see ``models.parse_link``), dicts and
    ``Link``s (checked here).

    Raises:
        InvalidInput: not a list of links, or a malformed one.
    """
    from memoryspace.models import Link, parse_link

    if value is None:
        return ()
    if isinstance(value, str | Link | dict):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"links must be a list of ids or links, got {type(value).__name__}")
    out: list[Any] = []
    for item in value:
        if isinstance(item, str):
            if not item:
                raise InvalidInput("a link needs a non-empty id")
            out.append(item)
        else:
            out.append(parse_link(item))
    return tuple(out)


def meta(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"meta must be a dict, got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"meta must be JSON-serialisable without NaN: {exc}") from None
    return dict(value)


def flag(name: str, value: object) -> bool:
    """A real ``bool``: ``"no"``, ``1`` or ``None`` are refused, not coerced."""
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be True or False, got {value!r}")
    return value


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
    return value
