"""`Idempotency-Key`: a retried launch is the same session, once, and keys belong to one tenant."""

from __future__ import annotations

import asyncio

import pytest

from tests.gateway.client import ACME, GLOBEX, ROOM, Gateway, error_of

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_same_idempotency_key_is_the_same_session(gateway: Gateway) -> None:
    first = await gateway.join(**{"Idempotency-Key": "req-1"})
    again = await gateway.join(**{"Idempotency-Key": "req-1"})
    other = await gateway.join(**{"Idempotency-Key": "req-2"})

    assert first == again != other
    assert [x["session_id"] for x in gateway.sink.launches] == [first, other]


async def test_concurrent_duplicates_launch_once(gateway: Gateway) -> None:
    headers = {**ACME, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(gateway.http.post("/join", json={"room_url": ROOM}, headers=headers) for _ in range(20))
    )

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["session_id"] for r in responses}) == 1
    assert len(gateway.sink.launches) == 1
    assert gateway.sink.launches[0]["session_id"] == responses[0].json()["session_id"]


async def test_idempotency_keys_belong_to_one_tenant(gateway: Gateway) -> None:
    acme = await gateway.join(**{"Idempotency-Key": "shared"})
    globex = await gateway.join(headers=GLOBEX, **{"Idempotency-Key": "shared"})

    assert acme != globex
    assert [(x["session_id"], x["tenant"]) for x in gateway.sink.launches] == [
        (acme, "acme"),
        (globex, "globex"),
    ]


@pytest.mark.parametrize("key", ["", "k" * 201])
async def test_bad_idempotency_key_is_refused(gateway: Gateway, key: str) -> None:
    response = await gateway.http.post(
        "/join", json={"room_url": ROOM}, headers={**ACME, "Idempotency-Key": key}
    )
    assert response.status_code == 400, response.text
    assert error_of(response)["field"] == "Idempotency-Key"
    assert gateway.sink.events == []
