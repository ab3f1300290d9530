"""Retries for the HTTP clients of remote models (embeddings, chat completions).

Failures that may pass (timeouts, dropped connections, 408/409/429 and every 5xx) are retried with
exponential backoff, honouring the server's ``Retry-After``; every other response is handed back
to the caller, which knows what a 400 or a 401 means for its API. ``sleep`` is injectable so tests
never wait.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memoryspace.errors import BackendUnavailable, InvalidInput

if TYPE_CHECKING:  # httpx is imported on first use: it costs ~90 ms at `import memoryspace`
    import httpx

RETRY_STATUS = frozenset({408, 409, 429})  # plus every 5xx
MAX_RETRY_AFTER = 60.0  # never let a server park us for longer than this per attempt


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` (seconds or HTTP date)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def api_message(response: httpx.Response) -> str:
    """The server's own error message, if it sent one, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return response.text[:200]


def is_transient(status: int) -> bool:
    """Whether an HTTP status may pass if the same request is sent again."""
    return status in RETRY_STATUS or status >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry: wait ``backoff * 2**attempt``, at most
    ``max_backoff``, unless the server says otherwise with ``Retry-After``.

    Raises:
        InvalidInput: a negative count or delay (at construction).
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise InvalidInput("max_retries, backoff and max_backoff must be >= 0")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        return float(min(self.backoff * 2**attempt, self.max_backoff))


def send_with_retries(
    send: Callable[[], httpx.Response],
    *,
    target: str,
    policy: RetryPolicy,
    error: type[BackendUnavailable] = BackendUnavailable,
    on_retry: Callable[[str], None] | None = None,
) -> httpx.Response:
    """Call ``send`` until it returns a response that is not a transient failure, and return it.

    The caller judges the response it gets (2xx or a 4xx such as 400/401/404). ``target`` names
    the endpoint in messages; ``on_retry`` is told the problem before each retry (for counters).

    Raises:
        BackendUnavailable: (or the ``error`` subclass given) the server timed out, could not be
            reached, or kept answering 408/409/429/5xx for ``policy.max_retries + 1`` attempts.
    """
    import httpx

    problem = ""
    for attempt in range(policy.max_retries + 1):
        wait = policy.delay(attempt)
        try:
            response = send()
        except httpx.TimeoutException as exc:
            problem = f"timed out ({type(exc).__name__})"
        except httpx.TransportError as exc:
            problem = f"cannot connect ({exc})"
        else:
            if not is_transient(response.status_code):
                return response
            problem = f"answered {response.status_code} ({api_message(response)})"
            asked = retry_after(response)
            wait = wait if asked is None else asked
        if attempt < policy.max_retries:
            if on_retry is not None:
                on_retry(problem)
            policy.sleep(wait)
    raise error(
        f"{target} {problem} after {policy.max_retries + 1} attempts; "
        "check the server or retry later"
    )
