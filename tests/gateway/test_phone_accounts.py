"""A phone account names its tenant and how the caller's number is kept."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from functions.gateway.phone_accounts import TwilioAccount, mask_number, parse_accounts


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
