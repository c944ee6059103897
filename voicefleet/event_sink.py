"""Publishes CloudEvents to the broker (K_SINK) for services other than the gateway's launch.

The broker's ingress answers 202 once it has the event; from there its delivery (retries,
backoff, dead letter) carries it. Getting it to the ingress is this module's job: a few
retries with backoff, then `SinkUnavailable`, so the caller decides what a lost event means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from loguru import logger

from voicefleet import cloudevents_codec


class SinkUnavailable(Exception):
    """The broker did not take the event after every attempt."""


class EventRefused(SinkUnavailable):
    """The broker answered that it will never take this event (a 4xx other than 401, 403,
    408 and 429): sending it again, now or later, changes nothing."""


async def sink_token(token_file: Path | None) -> str | None:
    """The OIDC token the broker's EventPolicy checks; re-read each time, as it rotates."""
    if token_file is None:
        return None
    try:
        token = await asyncio.to_thread(token_file.read_text, encoding="utf-8")
    except FileNotFoundError:
        return None
    return token.strip() or None


class EventSink:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        token_file: Path | None = None,
        attempts: int = 5,
        first_delay_s: float = 0.2,
    ) -> None:
        self._client = client
        self._url = url
        self._token_file = token_file
        self._attempts = attempts
        self._first_delay_s = first_delay_s

    async def publish(
        self,
        event_type: str,
        source: str,
        data: Mapping[str, Any],
        *,
        event_id: str | None = None,
        extensions: Mapping[str, str] | None = None,
    ) -> None:
        """Send one event; the same `event_id` on a retry lets subscribers drop a duplicate."""
        headers, body = cloudevents_codec.encode(
            event_type, source, data, event_id=event_id, extensions=extensions
        )
        await self.send(event_type, headers, body)

    async def send(self, event_type: str, headers: Mapping[str, str], body: bytes) -> None:
        """Send an encoded event (as `publish` made it, or as a spool kept it) unchanged, so
        that a later attempt is the same event to every subscriber."""
        headers = dict(headers)
        token = await sink_token(self._token_file)
        if token:
            headers["authorization"] = f"Bearer {token}"
        problem, refused = "", False
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(self._first_delay_s * 2 ** (attempt - 1))
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code not in (408, 429):
                # The broker refuses this event; sending it again now changes nothing, and
                # later only when it was the token (it rotates) that was refused.
                refused = response.status_code not in (401, 403)
                break
        logger.warning("{} not published to the broker: {}", event_type, problem)
        raise (EventRefused if refused else SinkUnavailable)(
            f"{event_type} not published: {problem}"
        )
