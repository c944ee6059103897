"""Mangled Authorization headers, sent as raw bytes (httpx refuses to send most of them), get
a plain 401 with a message from the gateway, the admin function and Mesh alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.support.raw_http import raw_request
from tests.support.services import (
    ADMIN_KEY,
    GATEWAY_KEY,
    MESH_USER_TOKEN,
    Served,
    apps,
    served,
)

MANGLED = {
    "utf8": b"Bearer k\xc3\xa9y",
    "latin1": b"Bearer \xff\xfe",
    "cyrillic": "Bearer ключ".encode(),
    "zero-width": b"Bearer \xe2\x80\x8b{key}",
    "nbsp-padded": b"Bearer {key}\xc2\xa0",
    "tab": b"Bearer\t{key}",
    "two-tokens": b"Bearer {key} {key}",
    "no-scheme": b"{key}",
    "scheme-only": b"Bearer",
    "spaces-only": b"Bearer    ",
    "basic": b"Basic {key}",
    "quoted": b'Bearer "{key}"',
    "comma": b"Bearer {key},",
    "equals-inside": b"Bearer a=b{key}",
}
# Whitespace around the value is not part of it (RFC 9110 OWS), and 1*SP may separate.
ACCEPTED = {"padded": b"  Bearer {key}  ", "two-spaces": b"Bearer  {key}", "lower": b"bearer {key}"}


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def services(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    data = tmp_path_factory.mktemp("auth")
    async with apps(redis_url, "http://127.0.0.1:9/", data) as made, served(made) as urls:
        yield urls


def _targets(urls: Served) -> list[tuple[str, str, str, str, str]]:
    """(name, base URL, method, path, key) for one authenticated GET or POST per service."""
    return [
        ("gateway", urls.gateway, "GET", "/sessions/none", GATEWAY_KEY),
        ("admin", urls.admin, "GET", "/sessions", ADMIN_KEY),
        ("mesh", urls.mesh, "POST", "/graphql", MESH_USER_TOKEN),
    ]


QUERY = b'{"query": "{ notes(limit: 1) { id } }"}'


@pytest.mark.parametrize("value", MANGLED.values(), ids=MANGLED.keys())
async def test_a_mangled_authorization_header_is_a_plain_401(
    services: Served, value: bytes
) -> None:
    for name, url, method, path, key in _targets(services):
        header = value.replace(b"{key}", key.encode())
        response = await raw_request(
            url, method, path, [(b"Authorization", header), (b"Content-Type", b"application/json")],
            QUERY if method == "POST" else b"",
        )  # fmt: skip
        assert response.status == 401, (name, response)
        assert b"Traceback" not in response.body
        body = response.json()
        message = body["errors"][0]["message"] if name == "mesh" else body["error"]["message"]
        assert message, (name, body)


async def test_two_authorization_headers_are_refused_even_if_one_is_valid(
    services: Served,
) -> None:
    for name, url, method, path, key in _targets(services):
        headers = [(b"Authorization", b"Bearer " + key.encode()), (b"Authorization", b"Bearer x")]
        response = await raw_request(url, method, path, headers, QUERY if method == "POST" else b"")
        assert response.status == 401, (name, response)


@pytest.mark.parametrize("value", ACCEPTED.values(), ids=ACCEPTED.keys())
async def test_well_formed_variants_are_accepted(services: Served, value: bytes) -> None:
    for name, url, method, path, key in _targets(services):
        header = value.replace(b"{key}", key.encode())
        response = await raw_request(
            url, method, path, [(b"Authorization", header), (b"Content-Type", b"application/json")],
            QUERY if method == "POST" else b"",
        )  # fmt: skip
        # Authenticated: the gateway's missing session is a 404, the others answer.
        assert response.status == (404 if name == "gateway" else 200), (name, response)
