"""What every route needs: the caller's ``Access`` (from its API key) and the space seen
through it, a ``ScopedMemory``, which answers a record outside the caller's namespaces exactly
as a missing one.

The dependencies are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, one
thread hop each (three per request, besides the route's own), and these do no more than read
the app's state and one small settings row (the stored keys, for a revocation to count at
once).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from memoryspace.access import Access, ScopedMemory
from memoryspace.access.credentials import token_from_headers
from memoryspace.server.keys import KeyRing
from memoryspace.space import MemorySpace


async def get_space(request: Request) -> MemorySpace:
    space: MemorySpace = request.app.state.space
    return space


async def get_access(request: Request) -> Access:
    """The caller's access: everything when the space has no keys (the server then listens on
    loopback only), else what the bearer token (or ``X-API-Key``) grants.

    Raises:
        Unauthorized: keys are configured and the token is missing or not valid.
    """
    ring: KeyRing = request.app.state.keys
    if not ring.configured():
        return Access.everything()
    return ring.authenticate(token_from_headers(request.scope["headers"]))


async def get_scoped(
    space: Annotated[MemorySpace, Depends(get_space)],
    access: Annotated[Access, Depends(get_access)],
) -> ScopedMemory:
    return ScopedMemory(space, access)


Space = Annotated[MemorySpace, Depends(get_space)]
Caller = Annotated[Access, Depends(get_access)]
Scoped = Annotated[ScopedMemory, Depends(get_scoped)]
