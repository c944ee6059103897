"""One call at each process's edge configures how it reports itself.

Idempotent per process: the dev stack runs the gateway and admin functions inside its own
process, and the first caller (the stack) decides the format for all of them.
"""

from __future__ import annotations

from voicefleet.observability import logs, tracing
from voicefleet.observability.settings import ObservabilitySettings

_configured: ObservabilitySettings | None = None


def setup(service: str, settings: ObservabilitySettings | None = None) -> ObservabilitySettings:
    """Configure this process (once) for `service`; returns the settings in force."""
    global _configured
    if _configured is None:
        _configured = settings or ObservabilitySettings()
        logs.configure(service, log_format=_configured.log_format, level=_configured.log_level)
        tracing.configure(
            service,
            endpoint=_configured.otlp_endpoint,
            service_name=_configured.otel_service_name,
        )
    return _configured
