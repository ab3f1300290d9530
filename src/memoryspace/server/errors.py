"""Errors as HTTP answers: every error is ``{"error": {"type", "message"}}`` with a 4xx status
for anything a client sent (a 5xx only for a fault of the server itself), and a bound on the
size of request bodies."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memoryspace.errors import (
    BackendUnavailable,
    Closed,
    Conflict,
    DiskFull,
    Forbidden,
    InvalidInput,
    MemorySpaceError,
    NotFound,
    ReadOnly,
    Unauthorized,
)

log = logging.getLogger("memoryspace.server")

MAX_BODY_BYTES = 8 * 1024 * 1024

# Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[MemorySpaceError], int], ...] = (
    (NotFound, 404),
    (InvalidInput, 422),
    (Conflict, 409),
    (ReadOnly, 409),
    (Forbidden, 403),
    (Unauthorized, 401),
    (Closed, 503),
    (DiskFull, 507),
    (BackendUnavailable, 503),
    (MemorySpaceError, 400),
)
_HTTP_TYPES = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "A malformed request (a body that is not JSON)"),
        (401, "No API key, or an unknown, revoked or expired one"),
        (403, "The key lacks the right or namespace"),
        (404, "No such memory (or one outside the key's namespaces)"),
        (409, "Conflict: a changed version, a taken id, a read-only view"),
        (413, "The request body is too large"),
        (422, "Invalid input"),
        (503, "The database or a model is unavailable"),
    )
}


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def status_of(exc: MemorySpaceError) -> int:
    return next(status for cls, status in STATUS if isinstance(exc, cls))


def install_error_handlers(app: FastAPI) -> None:
    """Turn library errors, validation errors and HTTP errors into JSON error bodies."""

    async def library_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MemorySpaceError)
        headers = {"WWW-Authenticate": "Bearer"} if type(exc) is Unauthorized else None
        return JSONResponse(
            error_body(type(exc).__name__, str(exc)), status_code=status_of(exc), headers=headers
        )

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()[:10]
        )
        return JSONResponse(error_body("InvalidInput", problems), status_code=422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        kind = _HTTP_TYPES.get(exc.status_code, "HTTPError")
        return JSONResponse(
            error_body(kind, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    async def server_fault(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("InternalError", "the server failed; see its log"), status_code=500
        )

    app.add_exception_handler(MemorySpaceError, library_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, server_fault)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware answering 413 to a request body over ``limit`` bytes (declared or sent)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_body("PayloadTooLarge", f"request bodies are limited to {self.limit} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
