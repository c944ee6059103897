"""Bodies that stall or drip get a 408 after the body deadline, from the gateway, the admin
function and Mesh, and many such clients at once do not starve anyone else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.support.raw_http import RawResponse, raw_request
from tests.support.servers import serving
from tests.support.services import (
    ADMIN_KEY,
    GATEWAY_KEY,
    MESH_USER_TOKEN,
    Served,
    apps,
    served,
)
from tests.support.sink import CountingSink
from voicefleet import body_deadline

pytestmark = pytest.mark.asyncio(loop_scope="module")
DEADLINE_S = 0.5


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def services(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    patch = pytest.MonkeyPatch()
    patch.setattr(body_deadline, "BODY_TIMEOUT_S", DEADLINE_S)
    sink = CountingSink()
    data = tmp_path_factory.mktemp("slow")
    async with serving(sink.app) as sink_url, apps(redis_url, sink_url, data) as made:
        async with served(made) as urls:
            yield urls
    patch.undo()


def _posts(urls: Served) -> list[tuple[str, str, str, str]]:
    """(service, base URL, path, bearer key) of a POST with a body on each service."""
    return [
        ("gateway", urls.gateway, "/join", GATEWAY_KEY),
        ("admin", urls.admin, "/admin", ADMIN_KEY),
        ("mesh", urls.mesh, "/graphql", MESH_USER_TOKEN),
    ]


def _headers(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"Authorization", b"Bearer " + key.encode()), (b"Content-Type", b"application/json")]


def _assert_408(service: str, response: RawResponse) -> None:
    assert response.status == 408, (service, response)
    assert response.headers.get("connection") == "close", (service, response.headers)
    body = response.json()
    message = body["errors"][0]["message"] if service == "mesh" else body["error"]["message"]
    assert "not received within" in message, (service, body)


async def test_a_body_shorter_than_its_content_length_is_a_408(services: Served) -> None:
    for service, url, path, key in _posts(services):
        response = await raw_request(
            url, "POST", path, _headers(key), b'{"room_', content_length=4000, wait_s=10
        )
        _assert_408(service, response)


async def test_a_dripping_body_is_cut_at_the_deadline(services: Served) -> None:
    drip = [b" "] * 40  # a byte every 0.1 s: never idle, but never done within the deadline
    for service, url, path, key in _posts(services):
        response = await raw_request(
            url, "POST", path, _headers(key), b"{", content_length=4000,
            drip=drip, drip_every_s=0.1, wait_s=10,
        )  # fmt: skip
        _assert_408(service, response)


async def test_many_stalled_bodies_do_not_starve_other_clients(services: Served) -> None:
    stalled = [
        asyncio.create_task(
            raw_request(url, "POST", path, _headers(key), b"{", content_length=10_000, wait_s=20)
        )
        for _ in range(100)
        for _, url, path, key in _posts(services)
    ]
    await asyncio.sleep(0.1)  # they are all connected and waiting
    async with httpx.AsyncClient(timeout=20) as client:
        served_meanwhile = await asyncio.gather(
            client.post(
                services.gateway + "/join",
                json={"room_url": "https://acme.daily.co/meanwhile"},
                headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
            ),
            client.get(
                services.admin + "/sessions", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            ),
            client.post(
                services.mesh + "/graphql",
                json={"query": "{ notes(limit: 1) { id } }"},
                headers={"Authorization": f"Bearer {MESH_USER_TOKEN}"},
            ),
        )
    assert [r.status_code for r in served_meanwhile] == [202, 200, 200]
    answers = await asyncio.gather(*stalled)
    assert [a.status for a in answers] == [408] * len(stalled)
    async with httpx.AsyncClient() as client:
        for url in (services.gateway, services.admin, services.mesh):
            assert (await client.get(url + "/healthz")).status_code == 200
