"""The interface's Mesh proxy (dev stack): the page reads its user's data with the bot's scoping,
without ever holding a Mesh token, and cannot change anything through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.actions import notes
from bot.mesh_client import MeshClient
from devstack.mesh_proxy import APPLET_CSP, MeshProxy, beside
from devstack.ports import free_port
from mesh.app import create_app
from mesh.limits import Limits
from mesh.settings import MeshSettings
from tests.support.servers import serving

SERVICE_TOKEN = "proxy-test-service-token"
KEY = "acme-key"
NOTES = "{ notes { title } }"


@pytest.fixture
async def mesh_url(tmp_path: Path) -> AsyncIterator[str]:
    app = create_app(
        MeshSettings(database_url=f"sqlite:///{tmp_path / 'mesh.db'}", service_token=SERVICE_TOKEN)
    )
    try:
        async with serving(app) as served:
            yield served + "/graphql"
    finally:
        await app.state.engine.dispose()


async def _gateway(scope: object, receive: object, send: object) -> None:
    raise AssertionError("the proxy's paths never reach the gateway")


@pytest.fixture
async def proxy(mesh_url: str) -> AsyncIterator[httpx.AsyncClient]:
    mesh_proxy = MeshProxy(mesh_url, SERVICE_TOKEN, {KEY: "acme"})
    try:
        async with serving(beside(_gateway, mesh_proxy)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                yield client
    finally:
        await mesh_proxy.aclose()


def _as(mesh_url: str, tenant: str, user: str) -> MeshClient:
    return MeshClient(mesh_url, SERVICE_TOKEN, tenant=tenant, user=user)


def _auth(user: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {KEY}"}
    if user is not None:
        headers["X-Voicefleet-User"] = user
    return headers


async def test_reads_only_the_keys_tenant_and_the_named_user(
    proxy: httpx.AsyncClient, mesh_url: str
) -> None:
    await notes.create_note(_as(mesh_url, "acme", "ada"), "ada's")
    await notes.create_note(_as(mesh_url, "acme", "default"), "default's")
    await notes.create_note(_as(mesh_url, "globex", "ada"), "another tenant's")

    ada = await proxy.post("/mesh/graphql", json={"query": NOTES}, headers=_auth("ada"))
    assert ada.status_code == 200
    assert ada.json() == {"data": {"notes": [{"title": "ada's"}]}}
    default = await proxy.post("/mesh/graphql", json={"query": NOTES}, headers=_auth())
    assert default.json() == {"data": {"notes": [{"title": "default's"}]}}
    named = {
        "query": f"query Mine {NOTES} query Other {{ applets {{ id }} }}",
        "operationName": "Mine",
    }
    chosen = await proxy.post("/mesh/graphql", json=named, headers=_auth())
    assert chosen.json() == {"data": {"notes": [{"title": "default's"}]}}


async def test_refuses_changes_and_bad_requests_with_a_clear_4xx(
    proxy: httpx.AsyncClient, mesh_url: str
) -> None:
    change = 'mutation { createNote(title: "sneaky") { id } }'
    refused = await proxy.post("/mesh/graphql", json={"query": change}, headers=_auth())
    assert refused.status_code == 403
    assert "only queries" in refused.json()["error"]["message"]
    assert await notes.list_notes(_as(mesh_url, "acme", "default")) == []

    cases = [
        ({"json": {"query": NOTES}}, 401),  # no key
        ({"json": {"query": NOTES}, "headers": {"Authorization": "Bearer nope"}}, 401),
        ({"content": b"{not json", "headers": _auth()}, 400),
        ({"content": b"[1]", "headers": _auth()}, 400),
        ({"json": {"query": "{ notes { "}, "headers": _auth()}, 422),
        ({"json": {"query": NOTES}, "headers": _auth("no spaces allowed")}, 422),
        ({"json": {"query": NOTES, "variables": [1]}, "headers": _auth()}, 422),
        ({"content": b'{"query": "' + b"x" * 20_000 + b'"}', "headers": _auth()}, 413),
    ]
    for kwargs, status in cases:
        answer = await proxy.post("/mesh/graphql", **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == status, (kwargs, answer.text)
        assert answer.json()["error"]["message"]


async def test_serves_an_applet_sandboxed_with_no_network(
    proxy: httpx.AsyncClient, mesh_url: str
) -> None:
    created = await _as(mesh_url, "acme", "ada").execute(
        'mutation { createApplet(title: "Timer", html: "<p>tick</p>") { id } }'
    )
    applet_id = created["createApplet"]["id"]

    page = await proxy.get(f"/mesh/applets/{applet_id}", params={"user": "ada"}, headers=_auth())
    assert page.status_code == 200 and page.text == "<p>tick</p>"
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == APPLET_CSP
    assert APPLET_CSP.startswith("sandbox allow-scripts;") and "default-src 'none'" in APPLET_CSP

    # Another user's applet does not exist for this one.
    other = await proxy.get(f"/mesh/applets/{applet_id}", params={"user": "bob"}, headers=_auth())
    assert other.status_code == 404
    assert (await proxy.get(f"/mesh/applets/{applet_id}")).status_code == 401


async def test_an_unreachable_mesh_is_a_502() -> None:
    mesh_proxy = MeshProxy(f"http://127.0.0.1:{free_port()}/graphql", SERVICE_TOKEN, {KEY: "acme"})
    try:
        async with serving(beside(_gateway, mesh_proxy)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                answer = await client.post("/mesh/graphql", json={"query": NOTES}, headers=_auth())
    finally:
        await mesh_proxy.aclose()
    assert answer.status_code == 502
    assert answer.json() == {"error": {"message": "Mesh is unreachable"}}


async def test_queries_over_meshs_limits_are_refused_before_mesh(
    proxy: httpx.AsyncClient, mesh_url: str
) -> None:
    await notes.create_note(_as(mesh_url, "acme", "default"), "a note", "x" * 50_000)
    aliases = " ".join(f"n{i}: notes(limit: 100) {{ content }}" for i in range(100))
    deep = '{ __type(name: "Note") { fields { type { ofType { ofType { ofType { ofType { ofType '
    deep += "{ ofType { name } } } } } } } } } }"
    for query in (f"{{ {aliases} }}", deep):
        refused = await proxy.post("/mesh/graphql", json={"query": query}, headers=_auth())
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["field"] == "query"
    page = "{ notes(limit: 100) { title content } }"
    answer = await proxy.post("/mesh/graphql", json={"query": page}, headers=_auth())
    assert answer.status_code == 200
    assert len(answer.json()["data"]["notes"][0]["content"]) == 50_000


async def test_an_answer_over_the_cap_is_not_passed_on(mesh_url: str) -> None:
    await notes.create_note(_as(mesh_url, "acme", "default"), "a note", "x" * 50_000)
    mesh_proxy = MeshProxy(mesh_url, SERVICE_TOKEN, {KEY: "acme"}, Limits(max_answer_bytes=10_000))
    try:
        async with serving(beside(_gateway, mesh_proxy)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                query = {"query": "{ notes { content } }"}
                large = await client.post("/mesh/graphql", json=query, headers=_auth())
    finally:
        await mesh_proxy.aclose()
    assert large.status_code == 422, large.text
    assert "over 10000 bytes" in large.json()["error"]["message"]
