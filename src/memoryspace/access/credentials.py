"""Where a request's credential is: the one reading of HTTP headers that the REST routes, their
change feed and the MCP endpoint share."""

from __future__ import annotations

from collections.abc import Iterable


def token_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of ``Authorization: Bearer <token>``, else of ``X-API-Key: <token>``; ``None``
    when neither is there (another scheme, such as ``Basic``, is no token)."""
    api_key = None
    for name, value in headers:
        lowered = bytes(name).lower()
        text = bytes(value).decode("latin-1").strip()
        if lowered == b"authorization":
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif lowered == b"x-api-key" and text and api_key is None:
            api_key = text
    return api_key
