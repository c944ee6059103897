"""The records function's configuration, read once from the environment at start-up."""

from __future__ import annotations

from pydantic import Field

from functions.http.settings import FunctionSettings


class RecordsSettings(FunctionSettings):
    k_sink: str | None = Field(default=None, validation_alias="K_SINK")
    sink_token_file: str = Field(
        default="/oidc/token", validation_alias="VOICEFLEET_SINK_OIDC_TOKEN_FILE"
    )
    retention_days: float = Field(
        default=30.0, gt=0, validation_alias="VOICEFLEET_REPORT_RETENTION_DAYS"
    )
    # One attempt's limit: a slow endpoint fails this attempt (the broker retries it later)
    # instead of holding a delivery slot; other endpoints' deliveries are separate events.
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, validation_alias="VOICEFLEET_WEBHOOK_TIMEOUT_S"
    )
