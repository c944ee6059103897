"""One call at each process's edge configures how it reports itself.

Once per process: the dev stack runs the gateway and admin functions inside its own process,
and the first caller (the stack) decides the format for all of them. Traces can wait: a runner
zygote imports the runner (and so this) before it forks, and an exporter's thread must not
exist at a fork, so a runner turns traces on in the forked child, re-reading its own
environment (`reread`).
"""

from __future__ import annotations

from voicefleet.observability import logs, tracing
from voicefleet.observability.settings import ObservabilitySettings

_configured: ObservabilitySettings | None = None
_tracing = False


def setup(
    service: str,
    settings: ObservabilitySettings | None = None,
    *,
    traces: bool = True,
    reread: bool = False,
) -> ObservabilitySettings:
    """Configure this process for `service`; returns the settings in force.

    `traces=False` configures logs only (no thread starts); `reread` applies the environment
    again (a forked child's own)."""
    global _configured, _tracing
    if _configured is None or reread:
        _configured = settings or ObservabilitySettings()
        logs.configure(service, log_format=_configured.log_format, level=_configured.log_level)
    if traces and not _tracing:
        _tracing = True
        tracing.configure(
            service,
            endpoint=_configured.otlp_endpoint,
            service_name=_configured.otel_service_name,
        )
    return _configured
