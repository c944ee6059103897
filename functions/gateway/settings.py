"""The gateway's configuration, read once from the environment at start-up."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from voicefleet.settings import CommonSettings, split_csv


class GatewaySettings(CommonSettings):
    # `tenant:key` pairs; VOICEFLEET_API_KEY alone gives the tenant "default" (dev).
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="VOICEFLEET_API_KEYS"
    )
    api_key: str | None = Field(default=None, validation_alias="VOICEFLEET_API_KEY")
    k_sink: str | None = Field(default=None, validation_alias="K_SINK")
    offer_timeout_s: float = Field(default=30.0, validation_alias="VOICEFLEET_OFFER_TIMEOUT_S")
    idempotency_ttl_s: int = Field(
        default=24 * 3600, validation_alias="VOICEFLEET_IDEMPOTENCY_TTL_S"
    )
    daily_api_key: str | None = Field(default=None, validation_alias="DAILY_API_KEY")
    daily_api_url: str = Field(default="https://api.daily.co/v1", validation_alias="DAILY_API_URL")
    daily_room_ttl_s: int = Field(default=3600, validation_alias="DAILY_ROOM_TTL_S")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return split_csv(value)

    def tenants_by_key(self) -> dict[str, str]:
        keys: dict[str, str] = {}
        for pair in self.api_keys:
            tenant, sep, key = pair.partition(":")
            if not sep or not tenant or not key:
                raise ValueError("VOICEFLEET_API_KEYS entries must look like tenant:key")
            keys[key] = tenant
        if self.api_key:
            keys[self.api_key] = "default"
        return keys
