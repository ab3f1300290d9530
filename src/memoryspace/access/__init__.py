"""Access control shared by the shells that serve many callers (the MCP and REST servers).

An ``Access`` is the namespaces (users, agents, or prefixes of them) and rights (read, write,
admin) a caller has; an ``AccessResolver`` turns a credential into one; ``ScopedMemory`` is a
``MemorySpace`` seen through an ``Access``, so nothing outside the namespaces is seen or changed.
"""

from memoryspace.access.namespaces import (
    Access,
    AccessResolver,
    Namespace,
    Right,
    static_tokens,
)
from memoryspace.access.scoped import ScopedMemory, TurnAdded

__all__ = [
    "Access",
    "AccessResolver",
    "Namespace",
    "Right",
    "ScopedMemory",
    "TurnAdded",
    "static_tokens",
]
