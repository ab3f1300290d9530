"""Prometheus metrics of a served space: request latency per route, records per kind,
hot-tier hits and faults, GC pauses and LLM calls (``GET /metrics``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memoryspace.space import MemorySpace


class SpaceMetrics(Collector):
    """Reads ``MemorySpace.stats()`` at each scrape (nothing is counted twice)."""

    def __init__(self, space: MemorySpace) -> None:
        self.space = space

    def collect(self) -> Iterator[Metric]:
        stats: dict[str, Any] = self.space.stats()
        records = GaugeMetricFamily(
            "memoryspace_records", "Stored memories by kind (archived included)", labels=["kind"]
        )
        for kind, count in sorted(stats["by_kind"].items()):
            records.add_metric([kind], count)
        yield records
        yield GaugeMetricFamily("memoryspace_pinned_records", "Pinned memories", stats["pinned"])
        yield GaugeMetricFamily(
            "memoryspace_archived_records", "Memories archived by GC", stats["archived"]
        )
        yield GaugeMetricFamily("memoryspace_lsn", "Last log sequence number", stats["lsn"])
        gc = stats["gc"]
        yield CounterMetricFamily("memoryspace_gc_events", "Garbage collections", gc["events"])
        yield CounterMetricFamily(
            "memoryspace_gc_pause_seconds", "Total GC pause time", gc["pause_duration"]
        )
        hot = stats.get("hot_tier", {})
        for name in ("hits", "misses"):
            yield CounterMetricFamily(
                f"memoryspace_hot_tier_{'faults' if name == 'misses' else name}",
                f"Hot-tier {'page faults' if name == 'misses' else 'hits'}",
                hot.get(name, 0),
            )
        llm = stats.get("llm", {})
        yield CounterMetricFamily("memoryspace_llm_calls", "LLM calls", llm.get("calls", 0))


def new_registry(space: MemorySpace) -> tuple[CollectorRegistry, Histogram, Histogram]:
    """A registry of its own (several apps in one process do not clash): the space's
    collector, the request latency histogram and the GC pause histogram."""
    registry = CollectorRegistry()
    registry.register(SpaceMetrics(space))
    latency = Histogram(
        "memoryspace_request_seconds",
        "Request latency by route",
        ["method", "route", "status"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    pauses = Histogram(
        "memoryspace_gc_pause_seconds_per_run",
        "Pause of each collection run through the server",
        registry=registry,
        buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
    )
    return registry, latency, pauses


class RequestTimer:
    """ASGI middleware observing each request's latency under its route template."""

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )
