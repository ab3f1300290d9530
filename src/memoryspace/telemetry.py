"""OpenTelemetry spans, when the ``otel`` extra is installed (else nothing at all).

``traced("memoryspace.search")`` wraps a facade call in a span of that name (``search``,
``add``, ``gc``, ``context``, ``forget``, ``reflect``, ``read``). In the REST server they nest
in the span FastAPI opens for each request (FastAPI traces natively when OpenTelemetry is
installed: ``POST /search`` with its route and status). MemorySpace only uses the OpenTelemetry
API: spans are recorded once the application configures an SDK ``TracerProvider`` (with the
exporter of its choice); until then a traced call skips OpenTelemetry altogether (its no-op
spans cost ~40 µs a call here, which a search should not pay for nothing).

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    trace.set_tracer_provider(TracerProvider())   # + a span processor and exporter
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_UNSET: Any = object()
_api: Any = _UNSET
_tracer: Any = None


def tracer() -> Any | None:
    """MemorySpace's OpenTelemetry tracer once the application has set a tracer provider;
    ``None`` before that, or when OpenTelemetry is not installed."""
    global _api, _tracer
    if _tracer is not None:
        return _tracer
    if _api is _UNSET:
        try:
            from opentelemetry import trace as api
        except ImportError:
            _api = None
        else:
            _api = api
    if _api is None:
        return None
    # ``set_tracer_provider`` stores it in this module global; reading it costs nothing, while
    # ``get_tracer_provider()`` reads the environment on every call.
    if getattr(_api, "_TRACER_PROVIDER", True) is None:
        return None
    _tracer = _api.get_tracer("memoryspace")
    return _tracer


def traced(name: str) -> Callable[[F], F]:
    """Run the decorated call in a span called ``name`` (exceptions are recorded on it, and
    ``memoryspace.results`` is the length of a list it returns)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            spans = tracer()
            if spans is None:
                return fn(*args, **kwargs)
            with spans.start_as_current_span(name) as span:
                result = fn(*args, **kwargs)
                if isinstance(result, list) and span.is_recording():
                    span.set_attribute("memoryspace.results", len(result))
                return result

        return cast(F, call)

    return decorate
