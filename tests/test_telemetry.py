"""OpenTelemetry: one trace per streamed analysis, GenAI attributes, trace ids in the JSON logs.

In process with the SDK's in-memory exporter and reader; then the real service as a process,
configured by OTEL_* variables only, exporting OTLP/HTTP protobuf to a real local receiver. Off
(no endpoint), nothing of OpenTelemetry is imported by the service's own code.
"""

import io
import json
import logging
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app import telemetry
from app.logs import JsonFormatter
from devtools.openai_server import OpenAIServer, Script
from devtools.otlp_receiver import OtlpReceiver, ReceivedSpan
from devtools.processes import ROOT
from devtools.waiting import eventually
from tests.conftest import TEST_SECRET, Factory, bearer, live_server, make_settings, openai_settings
from tests.service_process import ServiceProcess, openai_env
from tests.test_stream import ANSWER_TOKENS, DOCUMENT, sse_events

pytestmark = pytest.mark.any_database

CHILDREN = {"auth", "analysis.start", "chat gpt-4o", "analysis.finish"}


@pytest.fixture
def otel(database_url: str) -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    assert telemetry.configure(
        make_settings(database_url), span_exporter=exporter, metric_reader=reader
    )
    try:
        yield exporter, reader
    finally:
        telemetry.shutdown()


def secrets_absent(attributes: dict[str, Any], *texts: str) -> None:
    for key, value in attributes.items():
        for text in texts:
            assert text not in str(value), f"{key} carries request data"


async def test_one_trace_per_analysis_with_the_spans_and_attributes(
    database_url: str,
    upstream: OpenAIServer,
    token: Factory,
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    exporter, reader = otel
    settings = openai_settings(database_url, upstream)
    upstream.script(Script(tokens=ANSWER_TOKENS, prompt_tokens=321, delay=0.01))
    # A single-use token: its replay check is a span of its own.
    jwt = token(jti=uuid.uuid4().hex)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        logging.getLogger().addHandler(handler)
        try:
            response = await client.post(
                "/v1/analyse/stream",
                params={"format": "events"},
                json=DOCUMENT,
                headers=bearer(jwt),
            )
            # Probes make no spans.
            assert (await client.get("/health")).status_code == 200
        finally:
            logging.getLogger().removeHandler(handler)
    assert response.status_code == 200
    assert sse_events(response.text)[-2]["event"] == "result"
    analysis_id = response.headers["x-analysis-id"]

    def finished() -> list[ReadableSpan] | None:
        spans = list(exporter.get_finished_spans())
        names = {span.name for span in spans}
        return spans if names >= CHILDREN else None

    spans = await eventually(finished, within=5, what="the analysis's spans")
    [server] = [span for span in spans if span.kind is SpanKind.SERVER]
    assert server.name.startswith("POST")
    assert server.parent is None
    trace_id = server.context.trace_id
    assert {span.context.trace_id for span in spans} == {trace_id}, "one trace"
    by_name = {span.name: span for span in spans if span is not server}
    assert set(by_name) == {*CHILDREN, "auth.jti"}
    for span in by_name.values():
        assert span.parent is not None
        assert span.parent.span_id == server.context.span_id, f"{span.name}: child of the request"
    attributes = dict(server.attributes or {})
    assert attributes["app.request_id"] == response.headers["x-request-id"]
    assert attributes["app.analysis_id"] == analysis_id
    status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
    assert status == 200

    chat = by_name["chat gpt-4o"]
    assert chat.kind is SpanKind.CLIENT
    genai = dict(chat.attributes or {})
    assert genai["gen_ai.operation.name"] == "chat"
    assert genai["gen_ai.system"] == genai["gen_ai.provider.name"] == "openai"
    assert genai["gen_ai.request.model"] == "gpt-4o"
    assert genai["gen_ai.usage.input_tokens"] == 321
    assert genai["gen_ai.usage.output_tokens"] == len(ANSWER_TOKENS)
    assert genai["gen_ai.response.finish_reasons"] == ("stop",)
    assert 0 < genai[telemetry.TIME_TO_FIRST_CHUNK] < 5
    assert genai["server.address"] == "127.0.0.1"
    assert dict(by_name["analysis.finish"].attributes or {})["app.analysis_id"] == analysis_id
    # The stream's whole length: the chat span ends after the last token, the request after it.
    assert chat.end_time is not None
    assert server.end_time is not None
    assert chat.end_time <= server.end_time
    for span in spans:
        secrets_absent(dict(span.attributes or {}), DOCUMENT["content"], jwt, "liability")

    # Every JSON line written during the request carries its trace id.
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    [access] = [
        entry
        for entry in logged
        if entry["logger"] == "app.access" and entry.get("route") == "/v1/analyse/stream"
    ]
    assert access["trace_id"] == f"{trace_id:032x}"

    metrics = {
        metric.name: metric
        for resource in (reader.get_metrics_data() or ()).resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    outcomes = metrics["analysis_outcomes"].data.data_points
    assert [(p.attributes["outcome"], p.value) for p in outcomes] == [("completed", 1)]
    [ttft] = metrics["analysis_time_to_first_token"].data.data_points
    assert ttft.count == 1
    assert [p.value for p in metrics["analysis_tokens_relayed"].data.data_points] == [
        len(ANSWER_TOKENS)
    ]
    assert "http_requests" in metrics
    assert "analysis_active_streams" in metrics


async def test_a_failed_model_call_marks_its_span(
    database_url: str,
    upstream: OpenAIServer,
    token: Factory,
    otel: tuple[InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    exporter, _ = otel
    settings = openai_settings(database_url, upstream)
    upstream.script(Script(status=500))
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/analyse/stream", json=DOCUMENT, headers=bearer(token()))
    assert response.status_code == 502
    spans = await eventually(
        lambda: [s for s in exporter.get_finished_spans() if s.name == "analysis.finish"] or None,
        within=5,
        what="the final write's span",
    )
    [chat] = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o"]
    assert dict(chat.attributes or {})["error.type"] == "upstream_error"
    assert chat.status.is_ok is False
    assert spans


def spans_of_one_trace(receiver: OtlpReceiver) -> list[ReceivedSpan] | None:
    names = {span.name for span in receiver.spans}
    return list(receiver.spans) if names >= CHILDREN else None


@pytest.mark.process
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_the_service_exports_otlp_to_a_receiver(
    database_url: str, upstream: OpenAIServer, token: Factory, tmp_path: Path, protocol: str
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    with OtlpReceiver(grpc=protocol == "grpc") as receiver:
        env = openai_env(
            database_url,
            upstream.base_url,
            TEST_SECRET,
            LOG_FORMAT="json",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
            OTEL_SERVICE_NAME="compliance-under-test",
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTEL_METRIC_EXPORT_INTERVAL="200",
        )
        with ServiceProcess(env, tmp_path / "service.log") as service:
            service.wait_ready()
            response = httpx.post(
                f"{service.base_url}/v1/analyse/stream",
                json=DOCUMENT,
                headers=bearer(token()),
                timeout=30,
            )
            assert response.status_code == 200
            deadline = time.monotonic() + 10
            while spans_of_one_trace(receiver) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            # uvicorn exits through the signal it was stopped with, once shut down.
            assert service.stop() in (0, -signal.SIGTERM)
            output = service.output()
        spans = spans_of_one_trace(receiver)
        assert spans is not None, output
        expected = "application/grpc" if protocol == "grpc" else "application/x-protobuf"
        assert receiver.content_types == {expected}
        assert "analysis_outcomes" in receiver.metrics
    [server] = [span for span in spans if span.parent_span_id == ""]
    assert {span.trace_id for span in spans} == {server.trace_id}
    for span in spans:
        if span is not server:
            assert span.parent_span_id == server.span_id, span.name
    assert server.resource["service.name"] == "compliance-under-test"
    assert server.attributes["app.analysis_id"] == response.headers["x-analysis-id"]
    chat = next(span for span in spans if span.name == "chat gpt-4o")
    assert chat.attributes["gen_ai.usage.output_tokens"] == len(ANSWER_TOKENS)
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = next(e for e in logged if e["logger"] == "app.access" and e["status"] == 200)
    assert access["trace_id"] == server.trace_id


@pytest.mark.process
def test_off_nothing_of_opentelemetry_is_loaded_by_the_service(tmp_path: Path) -> None:
    """No endpoint: the service loads none of its OpenTelemetry parts, on any request."""
    program = """
import asyncio, sys, httpx
from app.application import create_app
from app.config import Settings

async def main():
    url = f"sqlite+aiosqlite:///{sys.argv[1]}"
    app = create_app(Settings(app_env="test", database_url=url))
    async with app.router.lifespan_context(app) as state:
        async def with_state(scope, receive, send):
            scope["state"] = dict(state or {})
            await app(scope, receive, send)
        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get("/health")
            await client.get("/v1/analyses")
    # langsmith (under langchain-core) imports the SDK's trace module whenever it is installed;
    # the service's own parts (providers, exporters, instrumentation, metrics) stay unloaded.
    ours = ("opentelemetry.sdk.metrics", "opentelemetry.exporter", "opentelemetry.instrumentation")
    loaded = sorted(m for m in sys.modules if m.startswith(ours))
    from app import telemetry
    print(" ".join(loaded) or ("on" if telemetry.enabled() else "none"))

asyncio.run(main())
"""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path / "off.db")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"


def test_exceptions_keep_their_type_not_their_message() -> None:
    """What the ASGI instrumentation records of an escaping exception reaches no exporter whole."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    marker = "DOC-MARKER-0f3a The Supplier's liability shall be unlimited."
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(telemetry.withholding(exporter)))
    tracer = provider.get_tracer("test")

    def fail() -> None:
        with tracer.start_as_current_span("request") as span:
            span.add_event("kept", {"count": 3})
            raise ValueError(marker)

    with pytest.raises(ValueError, match="DOC-MARKER"):
        fail()
    with tracer.start_as_current_span("plain") as plain:
        plain.set_status(Status(StatusCode.OK))
    provider.shutdown()
    failed, ok = exporter.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert not failed.status.description
    assert [(e.name, dict(e.attributes or {})) for e in failed.events] == [
        ("kept", {"count": 3}),
        ("exception", {"exception.type": "ValueError"}),
    ]
    assert marker not in repr(failed.to_json())
    assert ok.status.status_code is StatusCode.OK
