"""API keys: who may read, write or administer which namespaces of a space.

A key looks like ``ms_<id>_<secret>``. Only a SHA-256 digest of the secret is stored (in the
space's settings table, under ``server.api_keys``), so a stolen database reveals no key; the
secret is 32 random bytes, so a plain digest (no slow hash) is enough, and digests are compared
in constant time. A key grants ``rights`` (``read``, ``write``, ``admin``; admin implies the
other two) over ``namespaces``: ``user:alice``, ``agent:planner``, a prefix ``user:team-*``, or
``*`` (everything). A memory belongs to the namespaces of its ``user`` and ``agent``; a key sees
a memory when either is one of its namespaces. ``authenticate(token)`` is the one check every
shell (REST routes, the change feed, MCP) uses; it returns the shared ``memoryspace.access.Access``
that ``ScopedMemory`` enforces.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, Protocol

from memoryspace.access import Access
from memoryspace.access.namespaces import EVERY_NAMESPACE, Namespace
from memoryspace.errors import InvalidInput, NotFound, Unauthorized

SETTING = "server.api_keys"
RIGHTS = ("read", "write", "admin")
_NAME = re.compile(r"^[^\s*]{1,256}\*?$")
_TOKEN = re.compile(r"^ms_([0-9a-f]{12})_([A-Za-z0-9_\-]{20,100})$")


class SettingsStore(Protocol):
    """The part of a store the key ring uses: its settings table and transactions."""

    def get_setting(self, key: str) -> str | None: ...
    def set_setting(self, key: str, value: str) -> None: ...
    def transaction(self) -> AbstractContextManager[None]: ...


def parse_namespace(value: object) -> str:
    """A namespace: ``*``, ``user:NAME``, ``agent:NAME``, or a prefix ending in ``*``.

    Raises:
        InvalidInput: anything else.
    """
    if isinstance(value, str) and (value == EVERY_NAMESPACE or _is_namespace(value)):
        return value
    raise InvalidInput(
        f"a namespace is 'user:NAME', 'agent:NAME', a prefix like 'user:team-*', or '*'; "
        f"got {value!r}"
    )


def _is_namespace(text: str) -> bool:
    """What ``Namespace.parse`` reads, with names of at most 256 characters and no spaces."""
    try:
        Namespace.parse(text)
    except InvalidInput:
        return False
    return _NAME.match(text.partition(":")[2]) is not None


def parse_rights(values: Iterable[str]) -> tuple[str, ...]:
    """Rights from names (``read``, ``write``, ``admin``), in that order.

    Raises:
        InvalidInput: an unknown right, or none.
    """
    wanted = {v.strip() for v in values if v.strip()}
    unknown = wanted - set(RIGHTS)
    if unknown or not wanted:
        raise InvalidInput(f"rights are some of {', '.join(RIGHTS)}; got {sorted(wanted)}")
    return tuple(r for r in RIGHTS if r in wanted)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    digest: str
    namespaces: tuple[str, ...]
    rights: tuple[str, ...]
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    note: str = ""

    def describe(self) -> dict[str, Any]:
        """What ``keys list`` shows (never the digest)."""
        out = asdict(self)
        del out["digest"]
        out["namespaces"], out["rights"] = list(self.namespaces), list(self.rights)
        return out


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRing:
    """The API keys of one space, kept in its settings table."""

    def __init__(self, store: SettingsStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._parsed: tuple[str, Mapping[str, ApiKey]] = ("", MappingProxyType({}))

    def _load(self) -> Mapping[str, ApiKey]:
        """The stored keys, read on every call (so a revocation by another process counts at
        once) but parsed only when the stored text changed since the last call."""
        raw = self._store.get_setting(SETTING) or ""
        parsed = self._parsed
        if parsed[0] == raw:
            return parsed[1]
        out = {}
        for key_id, fields in (json.loads(raw) if raw else {}).items():
            fields["namespaces"] = tuple(fields["namespaces"])
            fields["rights"] = tuple(fields["rights"])
            out[key_id] = ApiKey(**fields)
        self._parsed = (raw, MappingProxyType(out))  # one assignment: threads see either
        return self._parsed[1]

    def _save(self, keys: Mapping[str, ApiKey]) -> None:
        self._store.set_setting(SETTING, json.dumps({k: asdict(v) for k, v in keys.items()}))

    def configured(self) -> bool:
        """Whether any key that is not revoked exists (then every request needs one)."""
        return any(key.revoked_at is None for key in self._load().values())

    def create(
        self,
        namespaces: Iterable[str],
        rights: Iterable[str],
        *,
        expires_at: float | None = None,
        note: str = "",
    ) -> tuple[ApiKey, str]:
        """A new key and its token (shown once; only its digest is stored).

        Raises:
            InvalidInput: a bad namespace or right, or an expiry in the past.
        """
        spaces = tuple(dict.fromkeys(parse_namespace(n) for n in namespaces))
        if not spaces:
            raise InvalidInput("a key needs at least one namespace (--namespace user:NAME)")
        granted = parse_rights(rights)
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("the expiry is in the past; give a later time")
        key_id, secret = os.urandom(6).hex(), _urlsafe_secret()
        key = ApiKey(key_id, _digest(secret), spaces, granted, now, expires_at, None, note)
        with self._store.transaction():  # read-modify-write of one setting, atomically
            keys = dict(self._load())
            keys[key_id] = key
            self._save(keys)
        return key, f"ms_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        """Every key, revoked and expired ones too, oldest first."""
        return sorted(self._load().values(), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key at once (requests with it fail from now on).

        Raises:
            NotFound: no key has that id.
        """
        with self._store.transaction():
            keys = dict(self._load())
            if key_id not in keys:
                raise NotFound(f"no API key with id {key_id!r}; `memoryspace keys list` shows ids")
            revoked = keys[key_id] = _revoked(keys[key_id], self._clock())
            self._save(keys)
        return revoked

    def authenticate(self, token: str | None) -> Access:
        """The access a token grants.

        Raises:
            Unauthorized: no token, or a malformed, unknown, revoked or expired one.
        """
        if not token:
            raise Unauthorized("this server needs an API key: send 'Authorization: Bearer ms_...'")
        match = _TOKEN.match(token)
        key = self._load().get(match.group(1)) if match else None
        # The digest is compared even for an unknown id, so timing tells nothing.
        expected = key.digest if key is not None else _digest("")
        given = _digest(match.group(2)) if match else _digest(token)
        if not hmac.compare_digest(expected, given) or key is None:
            raise Unauthorized("unknown API key; create one with `memoryspace keys create`")
        if key.revoked_at is not None:
            raise Unauthorized(f"API key {key.id} was revoked; create a new one")
        if key.expires_at is not None and key.expires_at <= self._clock():
            raise Unauthorized(f"API key {key.id} has expired; create a new one")
        try:
            return Access.only(key.namespaces, key.rights, key_id=key.id)
        except InvalidInput:  # stored by a version that read namespaces more loosely
            raise Unauthorized(
                f"API key {key.id} names a namespace this version does not read "
                f"({', '.join(key.namespaces)}); revoke it and create a new one"
            ) from None

    def resolve(self, token: str) -> Access | None:
        """The ``Access`` a token grants, or ``None`` for a token that is not valid: an
        ``AccessResolver`` for the MCP server, over the same stored keys."""
        try:
            return self.authenticate(token)
        except Unauthorized:
            return None


def _revoked(key: ApiKey, now: float) -> ApiKey:
    from dataclasses import replace

    return key if key.revoked_at is not None else replace(key, revoked_at=now)


def _urlsafe_secret() -> str:
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
