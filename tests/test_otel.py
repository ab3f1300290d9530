"""OpenTelemetry (the ``otel`` extra): a server span per HTTP request (FastAPI's own), and a
span per facade call (search, add, gc, ...) nested in it, recorded by the SDK's in-memory
exporter from a real server over a real SQLite file; embedded calls are traced the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk", reason="tracing needs the 'otel' extra")
pytest.importorskip("fastapi", reason="the REST server needs the 'server' extra")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from memoryspace import MemorySpace
from server_fixtures import served


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """An in-memory exporter on the process's SDK provider (set here unless one is already)."""
    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.shutdown()


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def request_of(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    """The server span (the HTTP request) ``span`` descends from."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    while span.kind is not SpanKind.SERVER:
        assert span.parent is not None, f"{span.name} has no request above it"
        span = by_id[span.parent.span_id]
    return span


def server_span(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    (found,) = [s for s in named(spans, name) if s.kind is SpanKind.SERVER]
    return found


def test_requests_and_the_facade_calls_inside_them_are_spans(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    with served(tmp_path / "otel.db") as (_, url), httpx.Client(base_url=url) as client:
        exporter.clear()
        added = client.post("/memories", json={"content": "traces cross the server"})
        found = client.post("/search", json={"query": "traces", "k": 3, "min_score": 0})
        collected = client.post("/gc", json={"dry_run": True})
        missing = client.get("/memories/nope")
    assert (added.status_code, found.status_code, collected.status_code) == (201, 200, 200)
    assert missing.status_code == 404
    spans = exporter.get_finished_spans()

    request = server_span(spans, "POST /search")
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/search"
    assert request.attributes["http.response.status_code"] == 200
    (search,) = named(spans, "memoryspace.search")
    assert request_of(search, spans) is request
    assert search.attributes is not None and search.attributes["memoryspace.results"] == 1
    (add,) = named(spans, "memoryspace.add")
    assert request_of(add, spans) is server_span(spans, "POST /memories")
    (gc,) = named(spans, "memoryspace.gc")
    assert request_of(gc, spans) is server_span(spans, "POST /gc")
    lookup = server_span(spans, "GET /memories/{id}")
    assert lookup.attributes is not None
    assert lookup.attributes["http.response.status_code"] == 404


def test_embedded_calls_are_spans_and_errors_are_recorded(
    exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    with MemorySpace.open(tmp_path / "embedded.db", embedder="hashing") as ms:
        exporter.clear()
        ms.add("one span per call")
        ms.search("span", min_score=0)
        with pytest.raises(ValueError):
            ms.search("")
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == [
        "memoryspace.add",
        "memoryspace.search",
        "memoryspace.search",
    ]
    assert all(span.parent is None for span in spans)
    failed = spans[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert [event.name for event in failed.events] == ["exception"]


SCRIPT = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from memoryspace.telemetry import traced, tracer

calls = traced("memoryspace.test")(lambda: [1, 2])
assert tracer() is None and calls() == [1, 2]   # no provider yet: OpenTelemetry is skipped
memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)             # set later: picked up by the next call
assert calls() == [1, 2]
(span,) = memory.get_finished_spans()
print(span.name, span.attributes["memoryspace.results"])
"""


def test_a_provider_set_after_the_first_call_is_picked_up() -> None:
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[1] / "src"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["memoryspace.test", "2"]
