"""The public surface is exactly what ``__all__`` lists."""

from __future__ import annotations

import memoryspace


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in dir(memoryspace) if not name.startswith("_")}
    modules = {
        "bench",
        "cli",
        "datasets",
        "demo",
        "embed",
        "errors",
        "index",
        "models",
        "retrieval",
        "settings",
        "space",
        "store",
        "tokens",
        "validate",
    }
    # Subpackages appear as attributes once any test imports them; they are not API names.
    assert set(memoryspace.__all__) - {"__version__"} == public - modules
    assert memoryspace.__all__ == sorted(memoryspace.__all__)


def test_every_error_is_a_memoryspace_error() -> None:
    for name in memoryspace.__all__:
        value = getattr(memoryspace, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, memoryspace.MemorySpaceError)
