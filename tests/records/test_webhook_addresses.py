"""SSRF: webhook URLs to private addresses are refused when registered and again when sent,
including a DNS name that resolves to one and a redirect to one."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.support.servers import serving
from voicefleet.records.addresses import UnsafeAddress, check_url
from voicefleet.records.sender import guarded_client, send, signed_headers
from voicefleet.records.store import new_secret


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.0.10/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "https://[fd00:ec2::254]/",  # the IPv6 metadata address (unique-local)
        "https://100.64.0.1/",  # carrier-grade NAT
        "https://0.0.0.0/",
        "https://[::ffff:10.0.0.1]/",  # IPv4-mapped private
        "https://localhost/hook",  # a DNS name resolving to loopback
        "http://93.184.215.14/hook",  # public, but not https
        "https://user:secret@93.184.215.14/",
        "https://no-such-host.invalid/",
    ],
)
async def test_private_or_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeAddress):
        await check_url(url, allow_loopback=False)


async def test_a_public_https_url_is_accepted() -> None:
    await check_url("https://93.184.215.14/hook", allow_loopback=False)


async def test_a_dns_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS is the boundary here: the name resolves (as an attacker's zone would) to 10.0.0.5."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def resolver(host: str, port: Any, **kwargs: Any) -> Any:
        if host == "hooks.attacker.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]
        return await real(host, port, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", resolver)
    with pytest.raises(UnsafeAddress, match="non-public"):
        await check_url("https://hooks.attacker.example/x", allow_loopback=False)


async def test_loopback_is_allowed_only_by_the_dev_setting() -> None:
    await check_url("http://127.0.0.1:8000/hook", allow_loopback=True)
    with pytest.raises(UnsafeAddress):
        await check_url("http://127.0.0.1:8000/hook", allow_loopback=False)
    with pytest.raises(UnsafeAddress):  # the setting opens loopback, not the private ranges
        await check_url("https://10.0.0.1/hook", allow_loopback=True)


async def test_delivery_connects_to_no_private_address_whatever_was_checked_before() -> None:
    """A name that resolved to a public address at registration and to a private one now
    (DNS rebinding) is caught at connect time: the client itself refuses the address."""
    hits: list[str] = []

    async def hook(request: Request) -> Response:
        hits.append(request.url.path)
        return Response("ok")

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with serving(app) as url:
        port = url.rsplit(":", 1)[1]
        async with guarded_client(allow_loopback=False, timeout_s=5) as client:
            attempt = await send(
                client, f"http://localhost:{port}/hook", new_secret(), "msg_1", b"{}"
            )
        assert attempt.status_code is None and "non-public" in (attempt.error or "")
        assert hits == []


async def test_a_redirect_to_a_private_address_is_not_followed() -> None:
    followed: list[str] = []

    async def hook(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=307)

    async def metadata(request: Request) -> Response:
        followed.append(request.url.path)
        return Response("secret")

    app = Starlette(
        routes=[
            Route("/hook", hook, methods=["POST"]),
            Route("/latest/meta-data/", metadata, methods=["POST", "GET"]),
        ]
    )
    async with serving(app) as url, guarded_client(allow_loopback=True, timeout_s=5) as client:
        attempt = await send(client, url + "/hook", new_secret(), "msg_1", b"{}")
    assert attempt.status_code == 307 and not attempt.ok
    assert attempt.error == "redirects are not followed"
    assert followed == []


def test_signatures_verify_as_a_receiver_would() -> None:
    secret = new_secret()
    body = b'{"type": "session.report", "timestamp": "2026-01-01T00:00:00Z", "data": {}}'
    headers = signed_headers(secret, "msg_abc", body)
    assert Webhook(secret).verify(body, headers)["type"] == "session.report"
    assert headers["webhook-signature"].startswith("v1,")
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)
