"""OpenTelemetry traces: one trace per session, from the gateway's request to the bot's tools.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` names an OTLP/HTTP collector: then each process exports
its spans in batches. Without it the API's no-op tracer makes every span free, so call sites
need no checks. The hop through the broker carries the W3C trace context as the CloudEvents
distributed-tracing extension (`traceparent`, `tracestate` attributes), which stays with the
event through Kafka and retries; the gateway also sets the HTTP `traceparent` header, so
Knative's own spans (when its tracing is on) join the same trace.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context

TRACER_NAME = "voicefleet"
# The CloudEvents distributed-tracing extension's attributes.
TRACE_ATTRIBUTES = ("traceparent", "tracestate")

_enabled = False


def configure(service: str, *, endpoint: str | None, service_name: str | None) -> bool:
    """Export this process's spans to `endpoint` (OTLP/HTTP); returns whether tracing is on."""
    global _enabled
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name or f"voicefleet-{service}"})
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))
    )
    trace.set_tracer_provider(provider)
    _enabled = True
    return True


def enabled() -> bool:
    return _enabled


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def event_extensions() -> dict[str, str]:
    """The current trace context as CloudEvent extension attributes (empty when none)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in TRACE_ATTRIBUTES}


def http_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(carrier: Mapping[str, str]) -> Context:
    """The trace context in HTTP headers or a CloudEvent's attributes (same names)."""
    return propagate.extract({k: v for k, v in carrier.items() if isinstance(v, str)})
