"""A phone account names its tenant and how the caller's number is kept."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from functions.gateway.phone_accounts import (
    TelnyxAccount,
    TwilioAccount,
    mask_number,
    parse_accounts,
)

TELNYX_KEY = "A" * 43 + "="


def test_numbers_are_masked_unless_the_tenant_keeps_them() -> None:
    accounts = parse_accounts(
        json.dumps(
            {
                "AC1": {"tenant": "acme", "auth_token": "t1"},
                "AC2": {"tenant": "globex", "auth_token": "t2", "caller_number": "e164"},
            }
        ),
        TwilioAccount,
    )
    assert accounts["AC1"].caller("+14155550123") == "+1******0123"
    assert accounts["AC2"].caller("+14155550123") == "+14155550123"
    assert accounts["AC1"].caller(None) is None
    assert "t1" not in repr(accounts["AC1"])  # the auth token never shows in a log line
    assert mask_number("+441632960961") == "+4*******0961"
    assert mask_number("123") == "***"


def test_a_bad_account_stops_the_gateway_at_start_up() -> None:
    with pytest.raises(ValidationError):
        parse_accounts(json.dumps({"AC1": {"tenant": "acme"}}), TwilioAccount)
    with pytest.raises(ValidationError):
        parse_accounts(
            json.dumps({"AC1": {"tenant": "a", "auth_token": "t", "body": {"greeting": ""}}}),
            TwilioAccount,
        )


def test_a_telnyx_account_places_calls_with_an_api_key_and_a_connection() -> None:
    inbound = {"tenant": "acme", "public_key": TELNYX_KEY}
    outbound = {**inbound, "api_key": "KEY-secret", "connection_id": "cc-1"}
    accounts = parse_accounts(json.dumps({"in": inbound, "out": outbound}), TelnyxAccount)
    assert not accounts["in"].places_calls and accounts["out"].places_calls
    assert "KEY-secret" not in repr(accounts["out"])
    with pytest.raises(ValidationError, match="both api_key and connection_id"):
        parse_accounts(json.dumps({"x": {**inbound, "api_key": "KEY"}}), TelnyxAccount)
