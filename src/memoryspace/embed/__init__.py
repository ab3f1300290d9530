"""Embedders: text to unit-length float32 vectors, and a persistent cache in front of them.

``HashingEmbedder`` is the dependency-free deterministic one (tests, demos); ``MiniLMEmbedder`` runs
all-MiniLM-L6-v2 locally (the ``embed`` extra, imported only when a model loads);
``OpenAIEmbedder`` calls an OpenAI-compatible API; ``CachedEmbedder`` + ``EmbeddingCache`` make
sure no text is embedded twice.
"""

from memoryspace.embed.base import Embedder
from memoryspace.embed.cache import CachedEmbedder, EmbeddingCache, default_cache_path
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.embed.minilm import MiniLMEmbedder, minilm_available
from memoryspace.embed.openai import OpenAIEmbedder

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "EmbeddingCache",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "default_cache_path",
    "minilm_available",
]
