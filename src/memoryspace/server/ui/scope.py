"""The access checks of the dashboard's routes, written against the fields every caller
``Access`` of the server has (``rights``, ``namespaces``, ``unrestricted``, ``key_id``): the
rights it holds, its namespaces as text, whether a user/agent scope lies inside them, and the
scope a listing is narrowed to.
"""

from __future__ import annotations

from typing import Any

from memoryspace.errors import Forbidden, InvalidInput
from memoryspace.server.deps import Caller

EVERYTHING = "*"


def require_read(access: Caller) -> None:
    """Raises: Forbidden: the key lacks the read right (admin holds every right)."""
    if not {"read", "admin"} & {str(right) for right in access.rights}:
        raise Forbidden("this API key lacks the 'read' right; create one with it")


def names(access: Caller) -> list[str]:
    """The key's namespaces as text: ``["*"]``, or ``user:NAME``, ``agent:NAME``, ``user:a*``."""
    if access.unrestricted:
        return [EVERYTHING]
    return [str(namespace) for namespace in access.namespaces or ()]


def rights(access: Caller) -> list[str]:
    return sorted(str(right) for right in access.rights)


def holds(namespace: str, user: str | None, agent: str | None) -> bool:
    """Whether the scope (user, agent) lies in ``namespace`` (text as ``names`` gives it)."""
    if namespace == EVERYTHING:
        return True
    field, _, name = namespace.partition(":")
    value = user if field == "user" else agent if field == "agent" else None
    if value is None:
        return False
    return value.startswith(name[:-1]) if name.endswith("*") else value == name


def allows(access: Caller, user: str | None, agent: str | None) -> bool:
    """Whether a scope of this user and agent is inside the key's namespaces."""
    return any(holds(namespace, user, agent) for namespace in names(access))


def narrow(access: Caller, given: dict[str, Any]) -> dict[str, Any] | None:
    """``given`` filters narrowed to the key's namespaces: as given when they name a scope the
    key holds (``None`` when they name one it does not: an empty answer), with the key's one
    namespace filled in when they name none.

    Raises:
        InvalidInput: they name no scope and the key has several namespaces (or a prefix).
    """
    if access.unrestricted:
        return given
    user, agent = given.get("user"), given.get("agent")
    if user is not None or agent is not None:
        return given if allows(access, user, agent) else None
    (only, *others) = names(access) or [""]
    field, _, name = only.partition(":")
    if others or not name or name.endswith("*"):
        raise InvalidInput(
            f"this API key covers several namespaces ({', '.join(names(access))}); "
            "name one with user= or agent="
        )
    return {**given, field: name}
