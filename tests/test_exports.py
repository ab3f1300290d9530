"""The public surface is exactly what ``__all__`` lists."""

from __future__ import annotations

import types

import memoryspace


def test_all_is_sorted_and_complete() -> None:
    # Subpackages appear as attributes once anything imports them; they are not API names.
    public = {
        name
        for name in dir(memoryspace)
        if not name.startswith("_") and not isinstance(getattr(memoryspace, name), types.ModuleType)
    }
    assert set(memoryspace.__all__) - {"__version__"} == public
    assert memoryspace.__all__ == sorted(memoryspace.__all__)


def test_every_error_is_a_memoryspace_error() -> None:
    for name in memoryspace.__all__:
        value = getattr(memoryspace, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, memoryspace.MemorySpaceError)
