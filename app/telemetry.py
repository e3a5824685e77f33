"""OpenTelemetry traces and metrics, exported with OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Off (the default), none of the service's OpenTelemetry parts is imported and every call here is
a test of one module global: start-up and the token path cost what they did. On, `configure`
builds the SDK's providers (their settings from the standard `OTEL_*` variables: service name,
headers, protocol `http/protobuf` by default or `grpc`, batch delays), the ASGI instrumentation
opens one server span per request, and the service adds its children: `auth` (and `auth.jti`),
`analysis.start` (limits and the row write), one GenAI `chat {model}` span per model call and
`analysis.finish` (the final write). Attributes carry ids, counts, codes and class names; never
document text, a prompt, an answer, a token or an exception's message.
"""

import asyncio
import logging
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.metrics import Meter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

    from app.config import Settings
    from app.llm import ChatModel

logger = logging.getLogger("app.telemetry")

SERVICE_NAME = "compliance-stream"
# The OpenTelemetry GenAI semantic conventions' provider names.
GENAI_SYSTEMS = {"openai": "openai", "azure": "azure.ai.openai", "local": "compliance.offline"}

TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
Attributes = Mapping[str, str | int | float | bool | tuple[str, ...]]
T = TypeVar("T")


class SpanLike(Protocol):
    def set_attribute(self, key: str, value: Any) -> Any: ...
    def add_event(self, name: str, attributes: Any = None) -> Any: ...
    def end(self) -> Any: ...


class _NoSpan:
    """What every span call gets while telemetry is off."""

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def add_event(self, name: str, attributes: Any = None) -> None:
        pass

    def end(self) -> None:
        pass


NO_SPAN = _NoSpan()


@dataclass(slots=True)
class _Telemetry:
    tracer_provider: "TracerProvider"
    meter_provider: "MeterProvider"
    tracer: "Tracer"
    meter: "Meter"


_on: _Telemetry | None = None


def enabled() -> bool:
    return _on is not None


def configure(
    settings: "Settings",
    *,
    span_exporter: "SpanExporter | None" = None,
    metric_reader: "MetricReader | None" = None,
) -> bool:
    """Turn telemetry on when OTLP export is configured (or a test hands an exporter).

    True when this call turned it on (and so its caller turns it off with `shutdown`).
    """
    global _on
    if _on is not None:
        return False
    if settings.otel_exporter_otlp_endpoint is None and span_exporter is None:
        return False
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    from app.version import service_version

    resource = Resource.create(
        {"service.name": SERVICE_NAME, "service.version": service_version()}
    ).merge(OTELResourceDetector().detect())
    tracer_provider = TracerProvider(resource=resource)
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(withholding(span_exporter)))
    else:
        exporter = withholding(_otlp_span_exporter())
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    if metric_reader is None:
        metric_reader = PeriodicExportingMetricReader(_otlp_metric_exporter())
    meter_provider = MeterProvider(resource=resource, metric_readers=[metric_reader])
    _on = _Telemetry(
        tracer_provider,
        meter_provider,
        tracer_provider.get_tracer("app"),
        meter_provider.get_meter("app"),
    )
    logger.info("OpenTelemetry on: traces and metrics exported with OTLP")
    return True


def withholding(exporter: "SpanExporter") -> "SpanExporter":
    """`exporter`, fed spans whose exceptions keep their type but not their message.

    The ASGI instrumentation records an exception that escapes the app with its message and
    traceback, and sets it as the status description: a message can quote the data being
    validated or written (a document, a row).
    """
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Status

    def clean(span: ReadableSpan) -> ReadableSpan:
        exceptions = any(event.name == "exception" for event in span.events)
        if not exceptions and not span.status.description:
            return span
        events = [
            Event(
                event.name,
                {"exception.type": (event.attributes or {}).get("exception.type", "?")},
                event.timestamp,
            )
            if event.name == "exception"
            else event
            for event in span.events
        ]
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=span.attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=Status(span.status.status_code),
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    class Withholding(SpanExporter):
        def export(self, spans: "Sequence[ReadableSpan]") -> SpanExportResult:
            return exporter.export([clean(span) for span in spans])

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return exporter.force_flush(timeout_millis)

    return Withholding()


def _protocol(signal: str) -> str:
    """OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else HTTP."""
    import os

    return (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()


def _otlp_span_exporter() -> "SpanExporter":
    # Each exporter reads its endpoint, headers, certificates and timeout from OTEL_* itself.
    if _protocol("TRACES") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter()


def _otlp_metric_exporter() -> "MetricExporter":
    if _protocol("METRICS") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter()


def shutdown() -> None:
    """Flush what is buffered and stop exporting (the lifespan's end; tests in between)."""
    global _on
    telemetry, _on = _on, None
    if telemetry is not None:
        telemetry.tracer_provider.shutdown()
        telemetry.meter_provider.shutdown()


def instrument(app: "FastAPI", excluded_paths: tuple[str, ...]) -> None:
    """The ASGI instrumentation, outermost: one server span per request (probes excluded)."""
    if _on is None:
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    # No span per `send` or `receive`: a stream sends one event per token.
    app.add_middleware(
        OpenTelemetryMiddleware,
        excluded_urls=",".join(f"{path}$" for path in excluded_paths),
        tracer_provider=_on.tracer_provider,
        meter_provider=_on.meter_provider,
        exclude_spans=["receive", "send"],
    )


@contextmanager
def span(name: str, attributes: Attributes | None = None) -> Iterator[SpanLike]:
    """A child of the current span, current inside the block."""
    if _on is None:
        yield NO_SPAN
        return
    # Exceptions are recorded by class (or the service's error code) only: a message can quote
    # the data being written or validated.
    with _on.tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            failure = getattr(exc, "failure", None)
            failed(current, getattr(failure, "code", None) or type(exc).__qualname__)
            raise


def start_span(name: str, attributes: Attributes | None = None) -> SpanLike:
    """A client span, child of the current one, that the caller ends; never made current.

    For work that outlives one block of code (a model stream read across many `anext`s): a
    current span would leak into whatever the consumer does between two chunks.
    """
    if _on is None:
        return NO_SPAN
    from opentelemetry.trace import SpanKind

    return _on.tracer.start_span(name, attributes=attributes, kind=SpanKind.CLIENT)


def task(
    name: str, work: Coroutine[Any, Any, T], attributes: Attributes | None = None
) -> "asyncio.Task[T]":
    """`work` as a task, inside a span of its own (a child of the current span)."""
    if _on is None:
        return asyncio.create_task(work)
    return asyncio.create_task(_traced(name, work, attributes))


async def traced(name: str, work: Coroutine[Any, Any, T]) -> T:
    """`await work` inside a span of its own."""
    if _on is None:
        return await work
    return await _traced(name, work, None)


async def _traced(name: str, work: Coroutine[Any, Any, T], attributes: Attributes | None) -> T:
    with span(name, attributes):
        return await work


def failed(target: SpanLike, code: str) -> None:
    """Mark a span as failed with the service's error code (no message: it may quote data)."""
    if _on is None:
        return
    from opentelemetry.trace import Status, StatusCode

    target.set_attribute("error.type", code)
    set_status = getattr(target, "set_status", None)
    if set_status is not None:
        set_status(Status(StatusCode.ERROR))


def annotate(attributes: Attributes) -> None:
    """Attributes on the current span (the request's server span, in a route)."""
    if _on is None:
        return
    from opentelemetry.trace import get_current_span

    current = get_current_span()
    for key, value in attributes.items():
        current.set_attribute(key, value)


def trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, as hex, for the JSON log line."""
    if _on is None:
        return None
    from opentelemetry.trace import get_current_span

    context = get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def meter() -> "Meter | None":
    return _on.meter if _on is not None else None


def chat_attributes(chat: "ChatModel") -> Attributes | None:
    """The GenAI semantic conventions' attributes of a chat call, known before it starts."""
    if _on is None:
        return None
    system = GENAI_SYSTEMS.get(chat.provider, chat.provider)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": system,
        "gen_ai.provider.name": system,
        "gen_ai.request.model": chat.name,
        "gen_ai.output.type": "json",
    }
    if chat.upstream:
        host, _, port = chat.upstream.partition(":")
        attributes["server.address"] = host
        if port.isdigit():
            attributes["server.port"] = int(port)
    return attributes


def end_chat(
    target: SpanLike,
    input_tokens: int | None,
    output_tokens: int | None,
    finish_reason: object,
) -> None:
    """The chat span's outcome (token counts, finish reason), then its end."""
    if _on is None:
        return
    if input_tokens is not None:
        target.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    if output_tokens is not None:
        target.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if isinstance(finish_reason, str):
        target.set_attribute("gen_ai.response.finish_reasons", (finish_reason,))
    target.end()
