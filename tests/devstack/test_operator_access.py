"""Who gets the dev admin key: the operator page's own requests, and nobody riding its cookie.

Served over real HTTP, as the dev stack wires the admin function (`SameOriginCookies` around
`BrowserAccess`), with an app that reports whether the key arrived in place of the admin function.
The end-to-end test (`tests/e2e/test_operator_page.py`) tries the same in Chromium.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from devstack.browser_access import ADMIN_COOKIE, COOKIE, BrowserAccess
from devstack.same_origin import SameOriginCookies
from tests.support.servers import serving

KEY = "admin-key-under-test"


async def _api(scope: Scope, receive: Receive, send: Send) -> None:
    authorization = Request(scope).headers.get("authorization")
    status = 200 if authorization == f"Bearer {KEY}" else 401
    await JSONResponse({"authorized": status == 200}, status_code=status)(scope, receive, send)


async def _page(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("operator page")(scope, receive, send)


@pytest.fixture
async def admin() -> AsyncIterator[httpx.AsyncClient]:
    access = BrowserAccess(_api, KEY, {"/operator": _page}, "/operator", ADMIN_COOKIE)
    async with (
        serving(SameOriginCookies(access)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        page = await client.get("/operator/")
        assert page.status_code == 200 and KEY not in page.text
        assert client.cookies.get(ADMIN_COOKIE)
        yield client


async def test_the_pages_own_requests_get_the_key(admin: httpx.AsyncClient) -> None:
    own = str(admin.base_url).rstrip("/")
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": own}, {"Sec-Fetch-Site": "none"}):
        answer = await admin.get("/sessions", headers=headers)
        assert answer.status_code == 200, headers


async def test_another_local_origin_cannot_ride_the_cookie(admin: httpx.AsyncClient) -> None:
    elsewhere = [
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.1:1"},  # a browser that sends no Sec-Fetch-Site
        {"Origin": "null"},  # a sandboxed frame or a data: page
    ]
    for headers in elsewhere:
        posted = await admin.post("/admin", headers=headers, content=b'{"session_id": "s"}')
        assert posted.status_code == 401, headers


async def test_without_the_cookie_or_with_the_gateways_there_is_no_key(
    admin: httpx.AsyncClient,
) -> None:
    token = admin.cookies[ADMIN_COOKIE]
    admin.cookies.clear()
    assert (await admin.get("/sessions")).status_code == 401
    # The gateway's cookie, even holding the admin page's value, is not the admin cookie.
    admin.cookies.set(COOKIE, token)
    assert (await admin.get("/sessions")).status_code == 401
    admin.cookies.set(ADMIN_COOKIE, token + "x")
    assert (await admin.get("/sessions")).status_code == 401
