"""AgentScope 2.0 integration (``pip install 'memoryspace[agentscope]'``; targets 2.0.11).

- ``MemorySpaceMiddleware``: long-term memory (recall before each reply within a token budget,
  the exchange recorded after it, ``search_memory`` / ``add_memory`` / ``forget_memory``);
- ``MemorySpaceCompaction``: short-term memory (large tool outputs offloaded to records,
  long histories compacted into a summary record linking its sources, ``read_memory``);
- ``MemorySpaceEmbeddingCache``: an ``EmbeddingCacheBase`` sharing MemorySpace's cache file.
"""

from memoryspace.integrations.agentscope.embedding_cache import MemorySpaceEmbeddingCache
from memoryspace.integrations.agentscope.middleware import MemorySpaceMiddleware
from memoryspace.integrations.agentscope.short_term import MemorySpaceCompaction

__all__ = ["MemorySpaceCompaction", "MemorySpaceEmbeddingCache", "MemorySpaceMiddleware"]
