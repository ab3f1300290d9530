"""From what ``MemorySpace.open`` is given to a store: a path, ``":memory:"``, a URL, or a store.

=====================================  =============================================
given                                  store
=====================================  =============================================
``"memory.db"``, a ``pathlib.Path``    ``SQLiteStore`` on that file
``":memory:"``, ``"sqlite://"``        ``SQLiteStore`` in RAM
``"sqlite:///memory.db"``              ``SQLiteStore`` (``sqlite:////abs/path.db`` for
                                       an absolute path, as SQLAlchemy spells it)
``"postgresql://user:pw@host/db"``     ``PostgresStore`` (the ``postgres`` extra)
an object with the ``Store`` methods   that store, as it is (the space closes it)
=====================================  =============================================
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import cast

from memoryspace import validate
from memoryspace.errors import InvalidInput
from memoryspace.store.base import Store
from memoryspace.store.sqlite import SQLiteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite://"
_STORE_METHODS = ("transaction", "insert", "update", "changes", "text_search", "close")


def is_store(value: object) -> bool:
    """Whether ``value`` is an already-built store (it has the ``Store`` methods)."""
    return not isinstance(value, str | os.PathLike) and all(
        callable(getattr(value, name, None)) for name in _STORE_METHODS
    )


def sqlite_location(url: str) -> str:
    """The path (or ``":memory:"``) a ``sqlite://`` URL names.

    Raises:
        InvalidInput: a URL with a host (``sqlite://host/...``): SQLite files are local.
    """
    rest = url[len(SQLITE_SCHEME) :]
    if rest in ("", "/", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/"):
        raise InvalidInput(
            f"{url!r} names a host; write sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    return rest[1:]


def open_store(
    location: object,
    *,
    clock: Callable[[], float] = time.time,
    access_flush_every: int = 1024,
    durability: str = "normal",
    create: bool = True,
    read_only: bool = False,
    ann_threshold: int | None = None,
) -> Store:
    """The store ``location`` names (see the module's table); ``read_only`` opens it without
    writing (a PostgreSQL replica; a SQLite file that needs no schema upgrade); on PostgreSQL
    ``ann_threshold`` is the vectors a dimension holds before it gets an HNSW index.

    Raises:
        InvalidInput: not a path, URL or store; a malformed URL.
        NotFound: ``create`` is false and there is no database there.
        BackendUnavailable: the PostgreSQL extra is missing or the server cannot be reached.
    """
    if is_store(location):
        return cast(Store, location)
    text = validate.path(location)
    if text.startswith(POSTGRES_SCHEMES):
        try:
            from memoryspace.store.postgres import PostgresStore
            from memoryspace.store.postgres.hnsw import DEFAULT_THRESHOLD
        except ImportError as exc:
            from memoryspace.errors import BackendUnavailable

            raise BackendUnavailable(
                f"PostgreSQL needs the postgres extra ({exc}); pip install 'memoryspace[postgres]'"
            ) from exc
        return PostgresStore(
            text,
            clock=clock,
            access_flush_every=access_flush_every,
            create=create,
            read_only=read_only,
            hnsw_threshold=DEFAULT_THRESHOLD if ann_threshold is None else ann_threshold,
        )
    if text.startswith(SQLITE_SCHEME):
        text = sqlite_location(text)
    return SQLiteStore(
        text,
        clock=clock,
        access_flush_every=access_flush_every,
        durability=durability,
        create=create,
        read_only=read_only,
    )


def vector_index_path(store: Store) -> str | None:
    """Where the vector index of ``store`` is saved: beside a SQLite file; nowhere for a
    database in RAM or on a server (there it is rebuilt from the store's vectors on open)."""
    if isinstance(store, SQLiteStore) and store.path is not None:
        return store.path + ".vectors"
    return None
