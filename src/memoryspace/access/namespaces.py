"""``Access``: which namespaces a session may use, and what it may do there.

A namespace is a user or an agent: ``user:alice``, ``agent:support-bot``, or a prefix of them
ending in ``*`` (``user:acme-*``). A memory is in a namespace when its ``user`` (or ``agent``)
is that name; a memory with neither is in no namespace, so only an unrestricted ``Access``
sees it. Rights are ``read``, ``write`` and ``admin`` (which implies the other two).

Every shell that serves more than one caller (the REST routes, their change feed, the MCP
server) turns the caller's credential into an ``Access`` with an ``AccessResolver``, a callable
``token -> Access | None`` (``None``: no such token), and checks every request with it. The
server's API keys (``memoryspace.server.keys.KeyRing``) are one such resolver; ``static_tokens``
is another. An ``Access`` with a ``key_id`` came from an API key: writes log ``key:<id>`` as
their actor.

Raises:
    InvalidInput: a namespace or right that cannot be parsed.
    Forbidden: a right or namespace the session does not have.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from memoryspace.errors import Forbidden, InvalidInput
from memoryspace.models import Memory


class Right(StrEnum):
    """What a session may do in its namespaces."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Namespace:
    """One user or agent (``prefix``: every user or agent whose name starts with ``name``)."""

    field: Literal["user", "agent"]
    name: str
    prefix: bool = False

    @classmethod
    def parse(cls, text: object) -> Namespace:
        """``user:NAME``, ``agent:NAME``, or either ending in ``*`` for a prefix.

        Raises:
            InvalidInput: anything else.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"a namespace is a string like 'user:alice', got {text!r}")
        field, _, name = text.partition(":")
        prefix = name.endswith("*")
        if prefix:
            name = name[:-1]
        if field not in ("user", "agent") or not name or "*" in name:
            raise InvalidInput(
                f"unknown namespace {text!r}; write user:NAME, agent:NAME, or user:PREFIX* "
                "(agent:PREFIX*) for every name with that prefix"
            )
        return cls("user" if field == "user" else "agent", name, prefix)

    def holds(self, value: str | None) -> bool:
        """Whether a user (or agent) called ``value`` is in this namespace."""
        if value is None:
            return False
        return value.startswith(self.name) if self.prefix else value == self.name

    def __str__(self) -> str:
        return f"{self.field}:{self.name}{'*' if self.prefix else ''}"


SCOPE_FIELDS = ("user", "agent")
EVERY_NAMESPACE = "*"
"""The namespace of an unrestricted key: every memory, including those of no user or agent."""


@dataclass(frozen=True, slots=True)
class Access:
    """The namespaces a session may use (``None``: every memory), its rights, and the API key
    that granted them (``None``: a local session, or a token of ``static_tokens``)."""

    namespaces: tuple[Namespace, ...] | None
    rights: frozenset[Right]
    key_id: str | None = None

    @classmethod
    def everything(cls) -> Access:
        """Every memory, every right: a local, single-user session (stdio, no keys)."""
        return cls(None, frozenset(Right))

    @classmethod
    def nothing(cls) -> Access:
        """No namespace, no right: what a request that was not authenticated gets."""
        return cls((), frozenset())

    @classmethod
    def only(
        cls,
        namespaces: Iterable[str],
        rights: Iterable[str] = ("read", "write"),
        *,
        key_id: str | None = None,
    ) -> Access:
        """Access restricted to ``namespaces`` (``"user:alice"``, ``"agent:bot"``, ``"user:a*"``),
        or to every memory when one of them is ``"*"``.

        Raises:
            InvalidInput: no namespace, or a namespace or right that cannot be parsed.
        """
        if isinstance(namespaces, str):
            raise InvalidInput("namespaces is a list of strings like ['user:alice']")
        texts = list(namespaces)
        if not texts:
            raise InvalidInput("a restricted access needs at least one namespace")
        granted = _parse_rights(rights)
        if EVERY_NAMESPACE in texts:
            return cls(None, granted, key_id)
        return cls(tuple(Namespace.parse(text) for text in texts), granted, key_id)

    @property
    def unrestricted(self) -> bool:
        return self.namespaces is None

    @property
    def actor(self) -> str | None:
        """Who the log names for this session's writes: ``key:<id>`` for an API key."""
        return None if self.key_id is None else f"key:{self.key_id}"

    def names(self) -> list[str]:
        """The namespaces as text (``["*"]`` when unrestricted)."""
        if self.namespaces is None:
            return [EVERY_NAMESPACE]
        return [str(ns) for ns in self.namespaces]

    def can(self, right: Right) -> bool:
        return right in self.rights or Right.ADMIN in self.rights

    def sees(self, memory: Memory) -> bool:
        """Whether ``memory`` is in one of the namespaces."""
        return self.allows(memory.user, memory.agent)

    def allows(self, user: str | None, agent: str | None) -> bool:
        """Whether a scope of this user and agent is inside the namespaces."""
        if self.namespaces is None:
            return True
        return any(ns.holds(user if ns.field == "user" else agent) for ns in self.namespaces)

    def require_right(self, right: Right) -> None:
        """Check that the session holds ``right`` (admin holds every right).

        Raises:
            Forbidden: it does not.
        """
        if not self.can(right):
            granted = ", ".join(sorted(self.rights)) or "none"
            raise Forbidden(
                f"this session lacks the {str(right)!r} right (its rights: {granted}); "
                f"use a key with the {right} right"
            )

    def require(self, right: Right, user: str | None, agent: str | None) -> None:
        """Check ``right`` and that the scope ``user``/``agent`` is inside the namespaces.

        Raises:
            Forbidden: the right is missing or the scope is outside the namespaces.
        """
        self.require_right(right)
        if not self.allows(user, agent):
            allowed = ", ".join(self.names()) or "none"
            asked = f"user={user!r}, agent={agent!r}"
            raise Forbidden(
                f"the scope {asked} is outside this session's namespaces ({allowed}); "
                "pass a user or agent of those namespaces"
            )

    def require_whole_space(self, right: Right) -> None:
        """Check ``right`` for an operation that reads or changes every namespace (a
        checkpoint, a restore, a collection): it needs the ``*`` namespace.

        Raises:
            Forbidden: the right is missing or the session is restricted to some namespaces.
        """
        self.require_right(right)
        if not self.unrestricted:
            raise Forbidden(
                "this operation spans every namespace; it needs a key with namespace '*' "
                f"(this session has {', '.join(self.names()) or 'none'}); name a scope instead "
                "where the operation takes one"
            )

    def single_scope(self) -> tuple[str, str] | None:
        """``(field, name)`` when the session covers exactly one namespace that is no prefix."""
        if self.namespaces is None or len(self.namespaces) != 1:
            return None
        only = self.namespaces[0]
        return None if only.prefix else (only.field, only.name)

    def narrow(self, filters: Mapping[str, Any]) -> dict[str, Any] | None:
        """``filters`` narrowed to the namespaces: unchanged when they name a scope inside
        them, given the session's one namespace when they name none; ``None`` when they name
        a scope outside (the answer is then empty, as if nothing were there).

        Raises:
            InvalidInput: the session covers several namespaces and the filters name none.
        """
        out = dict(filters)
        if self.namespaces is None:
            return out
        named = {f: out.get(f) for f in SCOPE_FIELDS}
        if any(v is not None for v in named.values()):
            return out if self.allows(named["user"], named["agent"]) else None
        single = self.single_scope()
        if single is not None:
            out[single[0]] = single[1]
            return out
        raise InvalidInput(
            f"this key covers more than one user or agent ({', '.join(self.names())}); "
            "name one with user= or agent="
        )

    def place(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """A record to write, given the session's one namespace when it names no scope.

        Raises:
            InvalidInput: it names no scope and the session covers several namespaces.
            Forbidden: its scope is outside the namespaces.
        """
        out = dict(item)
        if self.namespaces is None:
            return out
        if all(out.get(f) is None for f in SCOPE_FIELDS):
            single = self.single_scope()
            if single is None:
                raise InvalidInput(
                    f"this key covers more than one user or agent ({', '.join(self.names())}); "
                    "give the memory a user or an agent"
                )
            out[single[0]] = single[1]
        if not self.allows(out.get("user"), out.get("agent")):
            raise Forbidden(
                f"this key may not write outside its namespaces ({', '.join(self.names())})"
            )
        return out


AccessResolver = Callable[[str], Access | None]
"""Turns a bearer token into the ``Access`` it grants, or ``None`` for an unknown token."""


def static_tokens(tokens: Mapping[str, Access]) -> AccessResolver:
    """A resolver over a fixed table of tokens, compared in constant time.

    Raises:
        InvalidInput: an empty token or a value that is not an ``Access``.
    """
    table: list[tuple[bytes, Access]] = []
    for token, access in tokens.items():
        if not isinstance(token, str) or not token:
            raise InvalidInput("a token must be a non-empty string")
        if not isinstance(access, Access):
            raise InvalidInput(f"the token table maps tokens to Access, got {access!r}")
        table.append((token.encode(), access))

    def resolve(token: str) -> Access | None:
        given = token.encode()
        found = None
        for known, access in table:  # no early exit: every comparison takes the same time
            if hmac.compare_digest(known, given):
                found = access
        return found

    return resolve


def _parse_rights(rights: Iterable[str]) -> frozenset[Right]:
    if isinstance(rights, str):
        raise InvalidInput("rights is a list such as ['read', 'write']")
    parsed = set()
    for text in rights:
        try:
            parsed.add(Right(text))
        except ValueError:
            raise InvalidInput(f"unknown right {text!r}; use read, write or admin") from None
    return frozenset(parsed)
