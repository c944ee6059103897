"""Settings every HTTP function shares: the tenants' API keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from functions.http.keys import parse_keys
from voicefleet.settings import CommonSettings, split_csv


class FunctionSettings(CommonSettings):
    # `tenant:key` pairs; VOICEFLEET_API_KEY alone gives the tenant "default" (dev).
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="VOICEFLEET_API_KEYS"
    )
    api_key: str | None = Field(default=None, validation_alias="VOICEFLEET_API_KEY")
    # Session reports, webhooks and deliveries (voicefleet/records): PostgreSQL in production.
    records_database_url: str = Field(
        default="sqlite:///.voicefleet/records.db",
        validation_alias="VOICEFLEET_RECORDS_DATABASE_URL",
    )
    # Dev only: webhook receivers on loopback (plain http allowed to them) are accepted.
    webhooks_allow_loopback: bool = Field(
        default=False, validation_alias="VOICEFLEET_WEBHOOKS_ALLOW_LOOPBACK"
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return split_csv(value)

    def tenants_by_key(self) -> dict[str, str]:
        return parse_keys(self.api_keys, self.api_key, variable="VOICEFLEET_API_KEYS")
