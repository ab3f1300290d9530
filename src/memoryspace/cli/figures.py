"""Numbers for people: floats rounded to what a reader can use, at any depth of a structure."""

from __future__ import annotations

import math
from typing import Any


def rounded(value: Any, digits: int = 3) -> Any:
    """``value`` with every float rounded: to ``digits`` decimals from 1 up, else to ``digits``
    significant digits (0.000123456 -> 0.000123); dicts, lists and tuples are walked.
    JSON output stays exact: use this for tables only."""
    if isinstance(value, bool) or not isinstance(value, float | dict | list | tuple):
        return value
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item, digits) for item in value]
    if not math.isfinite(value) or value == 0.0:
        return value
    if abs(value) >= 1:
        return round(value, digits)
    return float(f"{value:.{digits}g}")
