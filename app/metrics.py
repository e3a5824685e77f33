"""Prometheus metrics, correct across uvicorn workers (multiprocess mode).

With PROMETHEUS_MULTIPROC_DIR set (the container sets it), every worker writes its samples
there and `/metrics` aggregates them, whichever worker answers. Imported in the lifespan only:
prometheus_client reads /proc at import.

With OpenTelemetry on (app/telemetry.py), every instrument has an OpenTelemetry twin of the
same name (without Prometheus' `_total`), fed by the same calls and exported with OTLP.
"""

import os
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from app import telemetry

TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 180, 280, 600)


class Mirrored:
    """A Prometheus instrument (or one of its label children) and its OpenTelemetry twin."""

    __slots__ = ("_attributes", "_names", "_prometheus", "_record")

    def __init__(
        self,
        prometheus: Any,
        record: Callable[..., None],
        names: Sequence[str] = (),
        attributes: dict[str, str] | None = None,
    ) -> None:
        self._prometheus = prometheus
        self._record = record
        self._names = names
        self._attributes = attributes or {}

    def labels(self, *values: str) -> "Mirrored":
        attributes = dict(zip(self._names, values, strict=True))
        return Mirrored(self._prometheus.labels(*values), self._record, (), attributes)

    def inc(self, amount: float = 1) -> None:
        self._prometheus.inc(amount)
        self._record(amount, self._attributes)

    def dec(self, amount: float = 1) -> None:
        self._prometheus.dec(amount)
        self._record(-amount, self._attributes)

    def observe(self, value: float) -> None:
        self._prometheus.observe(value)
        self._record(value, self._attributes)


def _counter(
    name: str, documentation: str, labels: Sequence[str], registry: CollectorRegistry | None
) -> Counter | Mirrored:
    prometheus = Counter(name, documentation, labels, registry=registry)
    meter = telemetry.meter()
    if meter is None:
        return prometheus
    twin = meter.create_counter(name.removesuffix("_total"), description=documentation)
    return Mirrored(prometheus, twin.add, labels)


def _histogram(
    name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry | None
) -> Histogram | Mirrored:
    prometheus = Histogram(name, documentation, buckets=buckets, registry=registry)
    meter = telemetry.meter()
    if meter is None:
        return prometheus
    twin = meter.create_histogram(
        name.removesuffix("_seconds"),
        unit="s",
        description=documentation,
        explicit_bucket_boundaries_advisory=buckets,
    )
    return Mirrored(prometheus, twin.record)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        if self.multiprocess:
            multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        registry = None if self.multiprocess else self.registry
        self.requests = _counter(
            "http_requests_total",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry,
        )
        active_streams = Gauge(
            "analysis_active_streams",
            "Analyses streaming right now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        meter = telemetry.meter()
        self.active_streams: Gauge | Mirrored = active_streams
        if meter is not None:
            twin = meter.create_up_down_counter(
                "analysis_active_streams", description="Analyses streaming right now."
            )
            self.active_streams = Mirrored(active_streams, twin.add)
        self.ttft = _histogram(
            "analysis_time_to_first_token_seconds",
            "From request to the model's first token.",
            TTFT_BUCKETS,
            registry,
        )
        self.duration = _histogram(
            "analysis_stream_duration_seconds",
            "From request to the end of the analysis.",
            DURATION_BUCKETS,
            registry,
        )
        self.tokens = _counter(
            "analysis_tokens_relayed_total", "Model tokens relayed to clients.", (), registry
        )
        self.outcomes = _counter(
            "analysis_outcomes_total",
            "Finished analyses: completed, failed, cancelled, deadline.",
            ["outcome"],
            registry,
        )
        self.upstream_errors = _counter(
            "analysis_upstream_errors_total", "Model failures by error code.", ["code"], registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def close(self) -> None:
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
