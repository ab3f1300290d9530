"""Options of shell commands that the library maps to facade arguments, so the CLI, the
REST server and the client agree on them."""

from __future__ import annotations

from typing import Any

from memoryspace.errors import InvalidInput

SECONDS_PER_DAY = 86_400


def gc_options(
    collector: str,
    *,
    major: bool = False,
    idle_days: float | None = None,
    max_records: int | None = None,
) -> dict[str, Any]:
    """``MemorySpace.gc``'s collector options from the shells' flags.

    ``major`` applies to the generational collector (ignored by the others), ``idle_days`` to
    ``ttl`` and ``max_records`` to ``bounded`` (which needs it).

    Raises:
        InvalidInput: an option given to a collector that does not take it, or ``bounded``
            without ``max_records``.
    """
    options: dict[str, Any] = {"major": True} if major and collector == "generational" else {}
    if idle_days is not None:
        if collector != "ttl":
            raise InvalidInput(
                "idle_days (--idle-days) applies to the ttl collector only (--collector ttl)"
            )
        options["idle_after"] = idle_days * SECONDS_PER_DAY
    if (max_records is None) != (collector != "bounded"):
        raise InvalidInput(
            "the bounded collector needs max_records (--max-records N), and only it takes it"
        )
    if max_records is not None:
        options["max_records"] = max_records
    return options
