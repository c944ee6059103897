"""Serves Pipecat's prebuilt browser client beside the gateway, and lets it in without a key.

Dev only. The page is same-origin with the gateway (it calls `/start`), so visiting it sets
an HttpOnly, SameSite=Strict cookie holding a random per-run value; requests that carry
that cookie and no Authorization header get the dev key added. The key itself never
reaches the browser, and other sites cannot ride the cookie.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from typing import Any

from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "voicefleet_dev"


def prebuilt_client() -> ASGIApp:
    from pipecat_ai_small_webrtc_prebuilt.frontend import SmallWebRTCPrebuiltUI

    return SmallWebRTCPrebuiltUI  # type: ignore[no-any-return]


class BrowserAccess:
    def __init__(self, gateway: ASGIApp, api_key: str, client: ASGIApp | None = None) -> None:
        self._gateway = gateway
        self._api_key = api_key
        self._client = client or prebuilt_client()
        self._token = secrets.token_urlsafe(24)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._gateway(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/" and scope["method"] == "GET":
            await RedirectResponse("/client/")(scope, receive, send)
            return
        if path == "/client" or path.startswith("/client/"):
            await self._serve_client(scope, receive, send)
            return
        await self._gateway(self._authorize(scope), receive, send)

    async def _serve_client(self, scope: Scope, receive: Receive, send: Send) -> None:
        child = {**scope, "path": scope["path"][len("/client") :] or "/", "root_path": "/client"}
        cookie = f"{COOKIE}={self._token}; Path=/; HttpOnly; SameSite=Strict"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self._client(child, receive, send_with_cookie)

    def _authorize(self, scope: Scope) -> Scope:
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        if any(name == b"authorization" for name, _ in headers):
            return scope
        cookies: dict[str, Any] = {}
        for name, value in headers:
            if name == b"cookie":
                parsed = SimpleCookie()
                parsed.load(value.decode("latin-1"))
                cookies.update({k: m.value for k, m in parsed.items()})
        token = cookies.get(COOKIE)
        if token and hmac.compare_digest(token.encode(), self._token.encode()):
            headers.append((b"authorization", f"Bearer {self._api_key}".encode()))
            return {**scope, "headers": headers}
        return scope
