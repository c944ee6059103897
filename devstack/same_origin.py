"""Keeps a dev cookie from working for any page but its own.

SameSite=Strict stops other sites, but every port of 127.0.0.1 is the same site: a page another
local server shows (or any local page an attacker gets into a browser) could POST a `text/plain`
form or a `no-cors` fetch to the admin function, the browser would attach the operator page's
cookie, and the bot would say what that page wants. Browsers say where a request comes from
(`Sec-Fetch-Site`, and `Origin` on a POST); a request that another origin made loses its cookies
here, before `BrowserAccess` could turn them into the dev key. Requests without either header
(curl, scripts) are not a browser riding a cookie, and pass unchanged.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

# `none`: the user typed the address or opened a bookmark; `same-origin`: the page itself.
_OWN = {b"same-origin", b"none"}


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key == name), None)


def made_elsewhere(scope: Scope) -> bool:
    """Whether a browser made this request for a page of another origin."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    site = _header(headers, b"sec-fetch-site")
    if site is not None:
        return site.strip().lower() not in _OWN
    origin = _header(headers, b"origin")
    if origin is None:
        return False
    own = f"{scope.get('scheme', 'http')}://".encode() + (_header(headers, b"host") or b"")
    return origin.strip().lower() != own.lower()


class SameOriginCookies:
    """Drops the Cookie header from requests that other origins made, then calls `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and made_elsewhere(scope):
            headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
            scope = {**scope, "headers": headers}
        await self._app(scope, receive, send)
