"""The admin function's configuration, read once from the environment at start-up."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from functions.http.keys import parse_keys
from functions.http.settings import FunctionSettings
from voicefleet.settings import split_csv


class AdminSettings(FunctionSettings):
    # `tenant:key` pairs of admin-scoped keys; VOICEFLEET_ADMIN_KEY alone is tenant "default".
    # The gateway's keys (VOICEFLEET_API_KEYS) are read only to answer them with a 403.
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="VOICEFLEET_ADMIN_KEYS"
    )
    admin_key: str | None = Field(default=None, validation_alias="VOICEFLEET_ADMIN_KEY")
    queue_max: int = Field(default=1000, ge=1, validation_alias="VOICEFLEET_ADMIN_QUEUE_MAX")
    message_max_age_s: float = Field(
        default=300.0, gt=0, validation_alias="VOICEFLEET_ADMIN_MESSAGE_MAX_AGE_S"
    )

    # The broker (a SinkBinding injects it): replayed webhook deliveries go through it.
    k_sink: str | None = Field(default=None, validation_alias="K_SINK")
    sink_token_file: str = Field(
        default="/oidc/token", validation_alias="VOICEFLEET_SINK_OIDC_TOKEN_FILE"
    )

    @field_validator("admin_keys", mode="before")
    @classmethod
    def _split_admin_keys(cls, value: object) -> object:
        return split_csv(value)

    def admin_tenants_by_key(self) -> dict[str, str]:
        return parse_keys(self.admin_keys, self.admin_key, variable="VOICEFLEET_ADMIN_KEYS")
