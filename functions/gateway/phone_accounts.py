"""Which tenant a phone call belongs to, and what that tenant chose for its calls.

A provider's webhook carries no API key: the account that signed it names the tenant. Each
account is configured once, as JSON by account id (`VOICEFLEET_TWILIO_ACCOUNTS` by account
SID, `VOICEFLEET_TELNYX_ACCOUNTS` by the TeXML account SID):

    {"AC…": {"tenant": "acme", "auth_token": "…", "caller_number": "masked",
             "body": {"greeting": "Acme, how can I help?"}}}
    {"…": {"tenant": "acme", "public_key": "<base64 Ed25519 key>",
           "api_key": "KEY…", "connection_id": "<Call Control application id>"}}

A Telnyx account places calls (`POST /calls`) only with an API key and the Call Control
application (`connection_id`) that dials them; without both it answers inbound calls only.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, model_validator

from voicefleet.contracts import SessionOverrides

# What a masked number keeps: its country code's first digit and its last digits.
_VISIBLE_DIGITS = 4


class PhoneAccount(BaseModel):
    """What every provider's account says: the tenant, its callers' numbers, its options."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=64)
    # How the session record keeps the caller's number: as it came (E.164), or masked.
    caller_number: Literal["e164", "masked"] = "masked"
    # The session options its calls start with (the same as a client's `body`).
    body: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid_body(self) -> PhoneAccount:
        SessionOverrides.model_validate(self.body)  # a bad greeting fails at start-up
        return self

    def caller(self, number: str | None) -> str | None:
        """The caller's number as this tenant keeps it."""
        if not number:
            return None
        if self.caller_number == "e164":
            return number
        return mask_number(number)


class TwilioAccount(PhoneAccount):
    # The account's auth token, which signs its webhooks (X-Twilio-Signature) and places calls.
    auth_token: SecretStr


class TelnyxAccount(PhoneAccount):
    # The account's Ed25519 public key (base64, from Telnyx's portal), which checks its
    # webhooks' `telnyx-signature-ed25519`.
    public_key: str = Field(min_length=40, max_length=64)
    # Outbound calls: the API key Call Control commands are sent with, and the Call Control
    # application that dials (its webhooks are signed with the same key as the TeXML ones).
    api_key: SecretStr | None = None
    connection_id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _both_or_neither(self) -> TelnyxAccount:
        if (self.api_key is None) != (self.connection_id is None):
            raise ValueError("a Telnyx account places calls with both api_key and connection_id")
        return self

    @property
    def places_calls(self) -> bool:
        return self.api_key is not None and self.connection_id is not None


def mask_number(number: str) -> str:
    """`+14155550123` → `+1******0123`: enough to tell calls apart, not to call back."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) <= _VISIBLE_DIGITS + 1:
        return "*" * len(digits)
    hidden = len(digits) - _VISIBLE_DIGITS - 1
    prefix = "+" if number.startswith("+") else ""
    return f"{prefix}{digits[0]}{'*' * hidden}{''.join(digits[-_VISIBLE_DIGITS:])}"


A = TypeVar("A", bound=PhoneAccount)


def parse_accounts(raw: str, model: type[A]) -> dict[str, A]:
    """The configured accounts by id; a malformed setting stops the gateway at start-up."""
    return TypeAdapter(dict[str, model]).validate_python(json.loads(raw or "{}"))  # type: ignore[valid-type]


def account_of(accounts: dict[str, A], tenant: str) -> tuple[str, A] | None:
    """The tenant's account (its first), which places its outbound calls."""
    for sid, account in accounts.items():
        if account.tenant == tenant:
            return sid, account
    return None
