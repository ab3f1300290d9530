"""Token counting. The default is an offline estimate; a real tokenizer plugs in by callable."""

from __future__ import annotations

from collections.abc import Callable

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """About four characters a token, as BPE tokenizers average on English (at least 1)."""
    return max(1, (len(text) + 3) // 4)
