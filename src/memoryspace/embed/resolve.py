"""Choosing an embedder by name, as the facade, CLI and benchmarks do."""

from __future__ import annotations

import logging

from memoryspace.embed.base import Embedder
from memoryspace.embed.cache import CachedEmbedder, EmbeddingCache, default_cache_path
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.embed.minilm import MiniLMEmbedder, minilm_missing
from memoryspace.errors import InvalidInput

log = logging.getLogger("memoryspace")


def resolve_embedder(choice: Embedder | str | None) -> Embedder:
    """An embedder from a name: ``"auto"`` (MiniLM if installed, else hashing), ``"minilm"``,
    ``"hashing"``; MiniLM gets a persistent embedding cache.

    Raises:
        InvalidInput: an unknown name.
    """
    if choice is None or choice == "auto":
        missing = minilm_missing()
        if missing is None:
            choice = "minilm"
        else:
            log.warning(
                "MiniLM is unavailable, so the hashing embedder is used: %s. A database "
                "created now holds hashing vectors; once MiniLM is installed, switch it with: "
                "memoryspace reembed --embedder minilm --db PATH",
                missing,
            )
            choice = "hashing"
    if choice == "minilm":
        cache = EmbeddingCache(default_cache_path())
        return CachedEmbedder(MiniLMEmbedder(), cache)
    if choice == "hashing":
        return HashingEmbedder()
    if isinstance(choice, str):
        raise InvalidInput(f"unknown embedder {choice!r}; use 'auto', 'minilm' or 'hashing'")
    return choice
