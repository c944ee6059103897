"""Idempotency before admission: a duplicate never holds one of its tenant's slots, a key
reused for another request is refused, and a refused launch costs nothing at Daily."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.gateway.client import ACME, ROOM, GatewayFactory, error_of, structured, with_daily
from tests.support.daily import FakeDaily
from voicefleet.contracts import JOIN_EVENT

pytestmark = pytest.mark.asyncio(loop_scope="module")

OTHER_ROOM = "https://acme.daily.co/other-room"


async def test_concurrent_duplicates_hold_no_tenant_slot(make_gateway: GatewayFactory) -> None:
    async with make_gateway(VOICEFLEET_MAX_SESSIONS_PER_TENANT="20") as gw:
        headers = {**ACME, "Idempotency-Key": "retry-storm"}
        storm = await asyncio.gather(
            *(gw.http.post("/join", json={"room_url": ROOM}, headers=headers) for _ in range(30))
        )
        assert Counter(r.status_code for r in storm) == {202: 30}, [r.text for r in storm]
        assert len({r.json()["session_id"] for r in storm}) == 1
        assert len(gw.sink.launches) == 1
        # The storm took one slot: the tenant's other 19 launches fit, the 21st session not.
        others = await asyncio.gather(
            *(gw.http.post("/join", json={"room_url": f"{ROOM}-{i}"}, headers=ACME)
              for i in range(20))
        )  # fmt: skip
        assert Counter(r.status_code for r in others) == {202: 19, 429: 1}
        assert len(gw.sink.launches) == 20


async def test_a_key_reused_with_another_body_is_422(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        headers = {**ACME, "Idempotency-Key": "reused"}
        first = await gw.http.post("/join", json={"room_url": ROOM}, headers=headers)
        clash = await gw.http.post("/join", json={"room_url": OTHER_ROOM}, headers=headers)
        # The same request, however its JSON is spaced, is a retry: the original answer.
        again = await gw.http.post(
            "/join", content=f'{{ "room_url" : "{ROOM}" }}'.encode(), headers=headers
        )
        assert first.status_code == 202, first.text
        assert clash.status_code == 422, clash.text
        assert error_of(clash)["field"] == "Idempotency-Key"
        assert "different request" in error_of(clash)["message"]
        assert again.status_code == 202, again.text
        assert again.json() == first.json()
        assert [x["room_url"] for x in gw.sink.launches] == [ROOM]


async def test_a_redelivered_event_with_other_data_is_422(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        attributes = {"type": JOIN_EVENT, "source": "crm", "id": "evt-1"}
        answers = []
        for room in (ROOM, OTHER_ROOM):
            headers, body = structured(attributes, {"room_url": room})
            answers.append(await gw.http.post("/", content=body, headers={**ACME, **headers}))
        first, clash = answers
        assert first.status_code == 202, first.text
        assert clash.status_code == 422, clash.text
        assert error_of(clash)["field"] == "Idempotency-Key"
        assert len(gw.sink.launches) == 1


async def test_create_daily_room_over_the_limit_makes_no_room(
    make_gateway: GatewayFactory,
) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily, VOICEFLEET_MAX_SESSIONS_PER_TENANT="1") as gw:
        first = await gw.http.post("/start", json={"createDailyRoom": True}, headers=ACME)
        refused = await gw.http.post("/start", json={"createDailyRoom": True}, headers=ACME)
        assert first.status_code == 200, first.text
        assert refused.status_code == 429, refused.text
        assert len(daily.rooms) == 1
        assert len(gw.sink.launches) == 1


async def test_create_daily_room_with_a_reused_key_makes_no_room(
    make_gateway: GatewayFactory,
) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily) as gw:
        headers = {**ACME, "Idempotency-Key": "room-once"}
        first = await gw.http.post("/start", json={"createDailyRoom": True}, headers=headers)
        clash = await gw.http.post(
            "/start", json={"createDailyRoom": True, "body": {"a": 1}}, headers=headers
        )
        assert first.status_code == 200, first.text
        assert clash.status_code == 422, clash.text
        assert len(daily.rooms) == 1
