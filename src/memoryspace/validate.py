"""Checks on what users hand the facade; each failure is an ``InvalidInput`` saying what to do.

Every public ``MemorySpace`` call runs its arguments through these before it touches the store,
so a rejected call changes nothing. Wrong types are rejected, never coerced: ``pinned="no"`` is
not ``True`` and ``id=[1, 2]`` is not ``"[1, 2]"``. Strings must be valid Unicode text (no lone
surrogates, no NUL); names (ids, scopes, tags, meta keys, actors) are at most
``MAX_NAME_CHARS`` long; times are finite Unix seconds from year 1 to year 9999.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from memoryspace.errors import InvalidInput

Vector = npt.NDArray[np.float32]

MAX_NAME_CHARS = 256
MAX_IDS = 100_000  # ids in one call; also tags or links of one memory (a summary links many)
MAX_META_DEPTH = 32
MAX_META_CHARS = 100_000
MAX_K = 10_000
MAX_ROWS = 1_000_000_000  # limit and offset of a scan or a change feed
MAX_LSN = 2**63 - 1
MAX_BUDGET = 100_000_000  # tokens of one assembled context
MIN_TIME = -62_135_596_800.0  # 0001-01-01T00:00:00Z
MAX_TIME = 253_402_300_799.0  # 9999-12-31T23:59:59Z
MIN_INT, MAX_INT = -(2**63), 2**63 - 1  # what SQLite's JSON functions compare as integers
META_FILTER_KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")
CHECKPOINT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def _unicode(name: str, value: str) -> str:
    """``value`` if it is valid text: no lone surrogates (not encodable) and no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{name} holds unpaired surrogates, so it is not valid Unicode text; "
            "decode the source bytes with errors='replace' first"
        ) from None
    if "\x00" in value:
        raise InvalidInput(f"{name} holds a NUL character; strip it first")
    return value


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
    if len(value) > limit:
        raise InvalidInput(
            f"content is {len(value)} characters, over the limit of {limit}; split it into "
            "several memories or raise Settings.max_content_chars"
        )
    if not value.strip():
        raise InvalidInput("content is empty; a memory needs some text")
    return _unicode("content", value)


def query(value: object, *, limit: int) -> str:
    """Non-empty search text within ``limit`` characters (``Settings.max_query_chars``)."""
    if not isinstance(value, str):
        raise InvalidInput(f"query must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(
            f"query is {len(value)} characters, over the limit of {limit}; search with the "
            "key words, or raise Settings.max_query_chars"
        )
    if not value.strip():
        raise InvalidInput("query must be a non-empty string")
    return _unicode("query", value)


def name(what: str, value: object) -> str:
    """A non-empty string of at most ``MAX_NAME_CHARS``: an id, scope, tag, key or actor."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"{what} is {len(value)} characters, over the limit of {MAX_NAME_CHARS}; "
            "use a shorter name (e.g. a hash of it)"
        )
    return _unicode(what, value)


def optional_name(what: str, value: object) -> str | None:
    return None if value is None else name(what, value)


def scope(what: str, value: object) -> str | None:
    """A user, agent or session: ``None`` (no scope) or a name."""
    return optional_name(what, value)


def actor(value: object) -> str | None:
    """Who made a change, as the log records it: ``None`` or a name."""
    return optional_name("actor", value)


def memory_id(value: object) -> str:
    return name("id", value)


def ids(value: object) -> list[str]:
    """One id or a list (tuple, set) of ids, without duplicates, in the order given."""
    if isinstance(value, str):
        return [memory_id(value)]
    return list(dict.fromkeys(id_list(value)))


def id_list(value: object) -> list[str]:
    """A list (tuple, set) of at most ``MAX_IDS`` ids; one string is not a list of ids."""
    if not isinstance(value, list | tuple | set | frozenset):
        raise InvalidInput(f"ids must be a list of ids, got {type(value).__name__}")
    if len(value) > MAX_IDS:
        raise InvalidInput(f"{len(value)} ids at once is over {MAX_IDS}; pass them in batches")
    return [memory_id(item) for item in value]


def strings(what: str, value: object) -> tuple[str, ...]:
    """Names such as tags or links: ``None``, one name, or a list (tuple, set) of names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (name(what, value),)
    if not isinstance(value, list | tuple | set | frozenset):
        raise InvalidInput(
            f"{what} must be a string or a list of strings, got {type(value).__name__}"
        )
    if len(value) > MAX_IDS:
        raise InvalidInput(f"{what} holds {len(value)} items, over the limit of {MAX_IDS}")
    return tuple(name(what, item) for item in value)


def meta(value: object) -> dict[str, Any]:
    """A JSON object: string keys, JSON values (finite numbers, 64-bit integers), at most
    ``MAX_META_DEPTH`` levels and about ``MAX_META_CHARS`` characters. Returns a copy."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"meta must be a dict, got {type(value).__name__}")
    budget = [MAX_META_CHARS]
    copied: dict[str, Any] = _json_value("meta", value, 0, budget)
    return copied


def _spend(budget: list[int], chars: int) -> None:
    budget[0] -= chars
    if budget[0] < 0:
        raise InvalidInput(
            f"meta is over {MAX_META_CHARS} characters; keep large data in the content "
            "or outside MemorySpace and store a reference"
        )


def _json_value(path: str, value: object, depth: int, budget: list[int]) -> Any:
    """A copy of ``value`` if it is plain JSON; ``budget`` counts down the characters left."""
    _spend(budget, 1)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise InvalidInput(f"{path} is an integer outside 64 bits; store it as a string")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{path} is {value!r}; JSON numbers must be finite")
        return float(value)
    if isinstance(value, str):
        _spend(budget, len(value))
        return _unicode(path, value)
    if depth >= MAX_META_DEPTH:
        raise InvalidInput(f"meta nests deeper than {MAX_META_DEPTH} levels; flatten it")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(
                    f"{path} has the key {key!r}; meta keys must be strings (JSON has no "
                    "other kind)"
                )
            _spend(budget, len(key))
            key = name(f"a key of {path}", key)
            out[key] = _json_value(f"{path}[{key!r}]", item, depth + 1, budget)
        return out
    if isinstance(value, list):
        return [
            _json_value(f"{path}[{i}]", item, depth + 1, budget) for i, item in enumerate(value)
        ]
    raise InvalidInput(
        f"{path} is a {type(value).__name__}; meta holds only JSON values (dict with string "
        "keys, list, str, int, float, bool, None)"
    )


def filter_meta(value: object) -> dict[str, str | int | float | bool | None]:
    """A meta filter: top-level keys (letters, digits, ``_``, ``-``) mapped to scalars."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("meta filter must be a dict of key -> value")
    out: dict[str, str | int | float | bool | None] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not META_FILTER_KEY.fullmatch(key):
            raise InvalidInput(f"meta filter key {key!r} must be 1-64 letters, digits, '_' or '-'")
        if item is not None and not isinstance(item, str | int | float):
            raise InvalidInput(f"meta filter on {key!r} takes a str, number, bool or None")
        out[key] = _json_value(f"meta filter on {key!r}", item, 0, [MAX_META_CHARS])
    return out


def time(what: str, value: object) -> float:
    """Finite Unix seconds from year 1 to year 9999."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a Unix time in seconds, got {value!r}")
    if not (isinstance(value, int) or math.isfinite(value)):
        raise InvalidInput(f"{what} must be finite, got {value!r}")
    if not MIN_TIME <= value <= MAX_TIME:
        raise InvalidInput(
            f"{what} is {value!r}, outside year 1 .. 9999 in Unix seconds; "
            "pass seconds (not milliseconds) since 1970"
        )
    return float(value)


def optional_time(what: str, value: object) -> float | None:
    return None if value is None else time(what, value)


def ttl(value: object) -> float | None:
    """``None`` (never expires) or a positive, finite number of seconds up to ``MAX_TIME``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInput(f"ttl must be a positive number of seconds, got {value!r}")
    if not value <= MAX_TIME:  # also catches infinity
        raise InvalidInput(
            f"ttl {value!r} is beyond year 9999; leave it None for memories that never expire"
        )
    return float(value)


def importance(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(f"importance must be a number from 0 to 1, got {value!r}")
    return float(value)


def flag(what: str, value: object) -> bool:
    """A real ``bool``: ``"no"``, ``1`` or ``None`` are rejected, not read as truth values."""
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be True or False, got {value!r}")
    return value


def optional_flag(what: str, value: object) -> bool | None:
    return None if value is None else flag(what, value)


def integer(what: str, value: object, *, low: int, high: int) -> int:
    """An ``int`` (not a bool) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be from {low} to {high}, got {value!r}")
    return int(value)


def optional_integer(what: str, value: object, *, low: int, high: int) -> int | None:
    return None if value is None else integer(what, value, low=low, high=high)


def positive_int(what: str, value: object, *, high: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a positive integer, got {value!r}")
    if value > high:
        raise InvalidInput(f"{what} must be at most {high}, got {value!r}")
    return value


def k(value: object) -> int:
    """How many hits a search returns: 1 .. ``MAX_K``."""
    return positive_int("k", value, high=MAX_K)


def checkpoint_name(value: object) -> str:
    """1-64 letters, digits, ``_``, ``.`` or ``-``, not starting with ``.`` (a file name)."""
    if not isinstance(value, str) or not CHECKPOINT_NAME.fullmatch(value) or value.startswith("."):
        raise InvalidInput(
            f"checkpoint name {value!r} must be 1-64 letters, digits, '_', '.' or '-' "
            "and not start with '.'"
        )
    return value


def vector(value: Any, *, dimension: int) -> Vector:
    """A finite vector of the space's dimension, returned L2-normalised as float32."""
    if isinstance(value, str | bytes | dict):
        raise InvalidInput("vector must be a sequence of numbers")
    try:
        with np.errstate(all="ignore"):  # too large for float32 becomes inf, rejected below
            array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
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


def iterable_items(value: object) -> Iterable[object]:
    """What ``add_many`` takes: an iterable of items, not one string or one dict."""
    if isinstance(value, str | bytes | bytearray | dict):
        raise InvalidInput(
            f"add_many takes a list of items, got one {type(value).__name__}; "
            "wrap it in a list or call add()"
        )
    if not isinstance(value, Iterable):
        raise InvalidInput(f"add_many takes a list of items, got {type(value).__name__}")
    return value


def path(value: object) -> str:
    """A database path: a ``str`` or ``os.PathLike`` of text, or ``":memory:"``."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise InvalidInput(
            f"path must be a str or pathlib.Path (or ':memory:'), got {type(value).__name__}"
        )
    if not value:
        raise InvalidInput("path is empty; give a file name, or ':memory:' for a space in RAM")
    return _unicode("path", value)


def min_score(value: object) -> float:
    """A relevance threshold: a number from 0 to 1 (``SearchHit.score`` is on that scale)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(
            f"min_score must be a number from 0 to 1 (a hit's score is a relevance in [0, 1]), "
            f"got {value!r}; pass 0 to keep every hit"
        )
    return float(value)
