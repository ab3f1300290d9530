"""Prefix stability: how much of a prompt an LLM server's prefix cache can reuse.

Servers (vLLM, SGLang, llama.cpp, the OpenAI and Anthropic APIs) keep the attention state of
prompt prefixes they have seen; a new prompt only pays for the tokens after the longest prefix it
shares with a cached one. Between two turns of one agent, that is the common prefix of the
previous prompt and this one. Stability is its share of this prompt's tokens: 1.0 means nothing to
recompute, 0.0 means the first token already differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from memoryspace.errors import InvalidInput


def common_prefix_length(previous: Sequence[Any], current: Sequence[Any]) -> int:
    """How many leading items the two sequences share."""
    limit = min(len(previous), len(current))
    for at in range(limit):
        if previous[at] != current[at]:
            return at
    return limit


def cached_prefix_tokens(
    previous_prompt_tokens: Sequence[int], prompt_tokens: Sequence[int], *, block_size: int = 1
) -> int:
    """Tokens of ``prompt_tokens`` a prefix cache holding ``previous_prompt_tokens`` can reuse.

    Servers that cache in fixed blocks (vLLM: 16 tokens) reuse whole blocks only; pass their
    ``block_size`` to round the shared prefix down to a multiple of it.

    Raises:
        InvalidInput: ``block_size < 1``.
    """
    if block_size < 1:
        raise InvalidInput(f"block_size must be at least 1, got {block_size}")
    shared = common_prefix_length(previous_prompt_tokens, prompt_tokens)
    return shared - shared % block_size


def prefix_stability(
    previous_prompt_tokens: Sequence[int], prompt_tokens: Sequence[int], *, block_size: int = 1
) -> float:
    """The share of ``prompt_tokens`` equal to the previous prompt's prefix (an empty prompt: 1.0).

    Raises:
        InvalidInput: ``block_size < 1``.
    """
    if not prompt_tokens:
        return 1.0
    reused = cached_prefix_tokens(previous_prompt_tokens, prompt_tokens, block_size=block_size)
    return reused / len(prompt_tokens)


def text_prefix_stability(
    previous_prompt: str, prompt: str, counter: object | None = None, *, block_size: int = 1
) -> float:
    """``prefix_stability`` of two texts, on the token ids of ``counter.encode`` when it has one.

    A counter without an exact ``encode`` (e.g. ``estimate_tokens``, or a ``TiktokenCounter``
    whose ``exact`` is ``False``) falls back to characters, which approximates tokens well for
    prompts that differ at block boundaries.

    Raises:
        InvalidInput: ``block_size < 1``.
    """
    encode = _encoder_of(counter)
    if encode is None:
        return prefix_stability(
            [ord(c) for c in previous_prompt], [ord(c) for c in prompt], block_size=block_size
        )
    return prefix_stability(encode(previous_prompt), encode(prompt), block_size=block_size)


def _encoder_of(counter: object | None) -> Callable[[str], Sequence[int]] | None:
    encode = getattr(counter, "encode", None)
    if not callable(encode) or not getattr(counter, "exact", True):
        return None
    return encode  # type: ignore[no-any-return]
