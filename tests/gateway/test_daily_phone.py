"""Phone calls through Daily rooms: `createDailyRoom` sessions that forward a dial-in call or
dial out get a room with SIP/PSTN properties from Daily's REST API (a stand-in at its
boundary, as for every `createDailyRoom`); the bot's side is in tests/bot/test_phone.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.client import ACME, GatewayFactory, error_of, with_daily
from tests.support.daily import FakeDaily

pytestmark = pytest.mark.asyncio(loop_scope="module")

DIALIN = {"call_id": "6a9f3f4e-0b1c-4b3e-9a55-1f2e3d4c5b6a", "call_domain": "0d5a-4c7b"}


def _room_properties(daily: FakeDaily) -> dict[str, Any]:
    (room,) = daily.rooms
    return dict(room["properties"])


async def test_a_dial_in_call_gets_a_sip_room_and_the_bot_its_call(
    make_gateway: GatewayFactory,
) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily) as gw:
        body = {"createDailyRoom": True, "body": {"dialin": DIALIN}}
        response = await gw.http.post("/start", json=body, headers=ACME)
        assert response.status_code == 200, response.text
        properties = _room_properties(daily)
        assert properties["sip"] == {
            "display_name": "caller",
            "sip_mode": "dial-in",
            "num_endpoints": 1,
        }
        assert "enable_dialout" not in properties and properties["eject_at_room_exp"] is True
        assert gw.sink.launches[0]["body"]["dialin"] == DIALIN


async def test_a_dial_out_gets_a_room_that_allows_it(make_gateway: GatewayFactory) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily) as gw:
        body = {
            "createDailyRoom": True,
            "dailyRoomProperties": {"enable_recording": "cloud"},
            "body": {"dialout": {"phone_number": "+14155550123"}},
        }
        response = await gw.http.post("/start", json=body, headers=ACME)
        assert response.status_code == 200, response.text
        properties = _room_properties(daily)
        assert properties["enable_dialout"] is True and properties["enable_recording"] == "cloud"
        assert "sip" not in properties


@pytest.mark.parametrize(
    ("phone", "field"),
    [
        ({"dialout": {"phone_number": "+14155550123", "sip_uri": "sip:a@b"}}, "body.dialout"),
        ({"dialout": {"phone_number": "555-0123"}}, "body.dialout.phone_number"),
        ({"dialin": {"call_id": "x y", "call_domain": "d"}}, "body.dialin.call_id"),
    ],
)
async def test_bad_phone_settings_are_refused_before_any_room(
    make_gateway: GatewayFactory, phone: dict[str, Any], field: str
) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily) as gw:
        body = {"createDailyRoom": True, "body": phone}
        response = await gw.http.post("/start", json=body, headers=ACME)
        assert response.status_code == 422, response.text
        assert error_of(response)["field"] == field
        assert daily.requests == [] and gw.sink.launches == []
