"""Which tenant a phone call belongs to, and what that tenant chose for its calls.

A provider's webhook carries no API key: the account that signed it names the tenant. Each
account is configured once (`VOICEFLEET_TWILIO_ACCOUNTS`, JSON by account SID):

    {"AC…": {"tenant": "acme", "auth_token": "…", "caller_number": "masked",
             "body": {"greeting": "Acme, how can I help?"}}}
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter

from voicefleet.contracts import SessionOverrides

# What a masked number keeps: its country code's first digit and its last digits.
_VISIBLE_DIGITS = 4


class PhoneAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=64)
    # Twilio: the account's auth token, which signs its webhooks (X-Twilio-Signature).
    auth_token: SecretStr
    # How the session record keeps the caller's number: as it came (E.164), or masked.
    caller_number: Literal["e164", "masked"] = "masked"
    # The session options its calls start with (the same as a client's `body`).
    body: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, _context: Any) -> None:
        SessionOverrides.model_validate(self.body)  # a bad greeting fails at start-up

    def caller(self, number: str | None) -> str | None:
        """The caller's number as this tenant keeps it."""
        if not number:
            return None
        if self.caller_number == "e164":
            return number
        return mask_number(number)


def mask_number(number: str) -> str:
    """`+14155550123` → `+1******0123`: enough to tell calls apart, not to call back."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) <= _VISIBLE_DIGITS + 1:
        return "*" * len(digits)
    hidden = len(digits) - _VISIBLE_DIGITS - 1
    prefix = "+" if number.startswith("+") else ""
    return f"{prefix}{digits[0]}{'*' * hidden}{''.join(digits[-_VISIBLE_DIGITS:])}"


_ACCOUNTS = TypeAdapter(dict[str, PhoneAccount])


def parse_accounts(raw: str) -> dict[str, PhoneAccount]:
    """The configured accounts; a malformed setting stops the gateway at start-up."""
    return _ACCOUNTS.validate_python(json.loads(raw or "{}"))
