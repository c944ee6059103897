"""One call at each process's edge configures how it reports itself.

Idempotent per process: the dev stack runs the gateway and admin functions inside its own
process, and the first caller (the stack) decides the format for all of them.

Logs and traces are configured apart because of the runner zygote (`runner/zygote.py`): it
must format its logs before it imports Pipecat, but tracing starts an exporter thread, and no
thread may cross a fork. So the zygote calls `setup(..., tracing=False)` and each forked runner
calls `setup` again, which then adds tracing only.
"""

from __future__ import annotations

from voicefleet.observability import logs, tracing
from voicefleet.observability.settings import ObservabilitySettings

_configured: ObservabilitySettings | None = None
_traced = False


def setup(
    service: str, settings: ObservabilitySettings | None = None, *, tracing_on: bool = True
) -> ObservabilitySettings:
    """Configure this process (once) for `service`; returns the settings in force."""
    global _configured, _traced
    if _configured is None:
        _configured = settings or ObservabilitySettings()
        logs.configure(service, log_format=_configured.log_format, level=_configured.log_level)
    if tracing_on and not _traced:
        _traced = True
        tracing.configure(
            service,
            endpoint=_configured.otlp_endpoint,
            service_name=_configured.otel_service_name,
        )
    return _configured
