"""The gateway's configuration, read once from the environment at start-up."""

from __future__ import annotations

from pydantic import Field

from functions.http.settings import FunctionSettings


class GatewaySettings(FunctionSettings):
    k_sink: str | None = Field(default=None, validation_alias="K_SINK")
    # Where the SinkBinding mounts the gateway's OIDC token for the broker (Knative Eventing with
    # authentication-oidc); sent as a bearer token when the file exists.
    sink_token_file: str = Field(
        default="/oidc/token", validation_alias="VOICEFLEET_SINK_OIDC_TOKEN_FILE"
    )
    offer_timeout_s: float = Field(default=30.0, validation_alias="VOICEFLEET_OFFER_TIMEOUT_S")
    idempotency_ttl_s: int = Field(
        default=24 * 3600, validation_alias="VOICEFLEET_IDEMPOTENCY_TTL_S"
    )
    daily_api_key: str | None = Field(default=None, validation_alias="DAILY_API_KEY")
    daily_api_url: str = Field(default="https://api.daily.co/v1", validation_alias="DAILY_API_URL")
    daily_room_ttl_s: int = Field(default=3600, validation_alias="DAILY_ROOM_TTL_S")
