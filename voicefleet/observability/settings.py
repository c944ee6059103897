"""How a process reports itself: log format, metrics access, where traces go.

Read once, at each process's edge (`voicefleet.observability.setup`), like every other
settings object; the names are the conventional ones (`LOG_FORMAT`, and OpenTelemetry's own
`OTEL_*`), so a cluster's usual tooling configures them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # json: one object a line, for a log pipeline; text: for people, in dev.
    log_format: Literal["json", "text"] = Field(default="json", validation_alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    # When set, `/metrics` answers only `Authorization: Bearer <token>` (a public gateway's
    # counters are nobody else's business); Prometheus sends it from a Secret.
    metrics_token: str | None = Field(default=None, validation_alias="VOICEFLEET_METRICS_TOKEN")
    # Traces are off unless an OTLP/HTTP collector is named.
    otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_service_name: str | None = Field(default=None, validation_alias="OTEL_SERVICE_NAME")
