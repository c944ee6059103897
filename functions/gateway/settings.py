"""The gateway's configuration, read once from the environment at start-up."""

from __future__ import annotations

from pydantic import Field

from functions.gateway.limits import TenantLimits, parse_overrides
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
    # Per-tenant limits (0: none); VOICEFLEET_TENANT_LIMITS overrides them for named tenants.
    max_sessions_per_tenant: int = Field(
        default=0, ge=0, validation_alias="VOICEFLEET_MAX_SESSIONS_PER_TENANT"
    )
    launches_per_minute_per_tenant: int = Field(
        default=0, ge=0, validation_alias="VOICEFLEET_LAUNCHES_PER_MINUTE_PER_TENANT"
    )
    tenant_limits_json: str = Field(default="{}", validation_alias="VOICEFLEET_TENANT_LIMITS")
    # Phone calls (functions/gateway/routes/telephony.py). The URL the providers reach this gateway
    # at (webhook signatures cover it; media streams open on it), e.g. https://voice.example.com;
    # unset, each request's own URL.
    public_url: str | None = Field(default=None, validation_alias="VOICEFLEET_PUBLIC_URL")
    # Twilio accounts whose calls this gateway answers: JSON, by account SID (phone_accounts.py).
    twilio_accounts_json: str = Field(default="{}", validation_alias="VOICEFLEET_TWILIO_ACCOUNTS")
    telnyx_accounts_json: str = Field(default="{}", validation_alias="VOICEFLEET_TELNYX_ACCOUNTS")
    # Where Twilio's REST API is (outbound calls); unset: api.twilio.com.
    twilio_api_url: str | None = Field(default=None, validation_alias="TWILIO_API_URL")
    # Where Telnyx's REST API is (outbound calls' Call Control commands).
    telnyx_api_url: str = Field(default="https://api.telnyx.com", validation_alias="TELNYX_API_URL")

    def default_limits(self) -> TenantLimits:
        return TenantLimits(
            max_sessions=self.max_sessions_per_tenant,
            launches_per_minute=self.launches_per_minute_per_tenant,
        )

    def tenant_limits(self) -> dict[str, TenantLimits]:
        return parse_overrides(self.tenant_limits_json)
