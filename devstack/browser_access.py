"""Serves the web pages beside a function, and lets the browser in without a key.

Dev only. A page is same-origin with the API it calls (the interface calls the gateway's
`/start`, the operator page the admin function's `/sessions`), so visiting it sets an HttpOnly,
SameSite=Strict cookie holding a random per-run value; requests that carry that cookie and no
Authorization header get the dev key added. The key itself never reaches the browser, and
other sites cannot ride the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie

from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "voicefleet_dev"
# Cookies ignore ports: the admin page gets a cookie of its own, which the gateway never honours.
ADMIN_COOKIE = "voicefleet_dev_admin"


def prebuilt_client() -> ASGIApp:
    from pipecat_ai_small_webrtc_prebuilt.frontend import SmallWebRTCPrebuiltUI

    return SmallWebRTCPrebuiltUI  # type: ignore[no-any-return]


def _cookies(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        if name == b"cookie":
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(value.decode("latin-1"))
            except CookieError:
                continue
            found.update({k: m.value for k, m in parsed.items()})
    return found


class BrowserAccess:
    """`pages` maps a path prefix (`/client`) to the app serving it; `GET /` goes to `home`."""

    def __init__(
        self,
        api: ASGIApp,
        api_key: str,
        pages: Mapping[str, ASGIApp],
        home: str,
        cookie: str = COOKIE,
    ) -> None:
        self._api = api
        self._api_key = api_key
        self._pages = dict(pages)
        self._home = home
        self._cookie = cookie
        self._token = secrets.token_urlsafe(24)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._api(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/" and scope["method"] in ("GET", "HEAD"):
            await RedirectResponse(self._home + "/")(scope, receive, send)
            return
        for prefix, app in self._pages.items():
            if path == prefix or path.startswith(prefix + "/"):
                await self._serve_page(prefix, app, scope, receive, send)
                return
        await self._api(self.authorize(scope), receive, send)

    async def _serve_page(
        self, prefix: str, app: ASGIApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        child = {**scope, "path": scope["path"][len(prefix) :] or "/", "root_path": prefix}
        cookie = f"{self._cookie}={self._token}; Path=/; HttpOnly; SameSite=Strict"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await app(child, receive, send_with_cookie)

    def authorize(self, scope: Scope) -> Scope:
        """The scope with the dev key added, if it carries this run's cookie and no key."""
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        if any(name == b"authorization" for name, _ in headers):
            return scope
        token = _cookies(headers).get(self._cookie)
        if token and hmac.compare_digest(token.encode(), self._token.encode()):
            headers.append((b"authorization", f"Bearer {self._api_key}".encode()))
            return {**scope, "headers": headers}
        return scope
