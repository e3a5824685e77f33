"""Prometheus metrics, correct across uvicorn workers (multiprocess mode).

With PROMETHEUS_MULTIPROC_DIR set (the container sets it), every worker writes its samples
there and `/metrics` aggregates them, whichever worker answers. Imported in the lifespan only:
prometheus_client reads /proc at import.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 180, 280, 600)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        if self.multiprocess:
            multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        registry = None if self.multiprocess else self.registry
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.active_streams = Gauge(
            "analysis_active_streams",
            "Analyses streaming right now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.ttft = Histogram(
            "analysis_time_to_first_token_seconds",
            "From request to the model's first token.",
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.duration = Histogram(
            "analysis_stream_duration_seconds",
            "From request to the end of the analysis.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "analysis_tokens_relayed_total", "Model tokens relayed to clients.", registry=registry
        )
        self.outcomes = Counter(
            "analysis_outcomes_total",
            "Finished analyses: completed, failed, cancelled, deadline.",
            ["outcome"],
            registry=registry,
        )
        self.upstream_errors = Counter(
            "analysis_upstream_errors_total",
            "Model failures by error code.",
            ["code"],
            registry=registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def close(self) -> None:
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
