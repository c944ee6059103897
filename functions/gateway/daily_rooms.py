"""Creates Daily rooms and meeting tokens through Daily's REST API (`createDailyRoom`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx


class DailyUnavailable(Exception):
    """Daily's API could not be reached or refused the request."""


@dataclass(frozen=True)
class DailyRoom:
    url: str
    user_token: str
    bot_token: str


class DailyRooms:
    def __init__(self, client: httpx.AsyncClient, *, api_url: str, api_key: str, ttl_s: int):
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._ttl_s = ttl_s

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(
                f"{self._api_url}{path}",
                json=payload,
                headers=self._headers,
                timeout=10.0,
            )
        except httpx.HTTPError as exc:
            raise DailyUnavailable(f"Daily API unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise DailyUnavailable(f"Daily API answered {response.status_code} on {path}")
        data: dict[str, Any] = response.json()
        return data

    async def create(
        self,
        room_properties: dict[str, Any] | None = None,
        token_properties: dict[str, Any] | None = None,
    ) -> DailyRoom:
        expires = int(time.time()) + self._ttl_s
        properties = {
            "exp": expires,
            "eject_at_room_exp": True,
            **(room_properties or {}),
        }
        room = await self._post("/rooms", {"properties": properties})
        name, url = room.get("name"), room.get("url")
        if not isinstance(name, str) or not isinstance(url, str):
            raise DailyUnavailable("Daily API returned a room without name or url")
        base = {"room_name": name, "exp": expires}
        user = await self._post(
            "/meeting-tokens", {"properties": {**base, **(token_properties or {})}}
        )
        bot = await self._post("/meeting-tokens", {"properties": {**base, "is_owner": True}})
        return DailyRoom(url=url, user_token=str(user["token"]), bot_token=str(bot["token"]))
