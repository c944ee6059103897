"""Sends one webhook message, signed to the Standard Webhooks specification.

`webhook-id` is the delivery's id (the same on every retry and replay, so a receiver can
drop a duplicate), `webhook-timestamp` the time of this attempt, and `webhook-signature`
`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with the webhook's secret, as the
`standardwebhooks` package computes it. Redirects are not followed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from voicefleet.records.addresses import GuardedBackend

ERROR_MAX = 300


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def guarded_client(*, allow_loopback: bool, timeout_s: float) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(retries=0)
    transport._pool._network_backend = GuardedBackend(allow_loopback=allow_loopback)
    return httpx.AsyncClient(transport=transport, timeout=timeout_s, follow_redirects=False)


def signed_headers(secret: str, message_id: str, body: bytes) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "user-agent": "voicefleet-webhooks",
    }


async def send(
    client: httpx.AsyncClient, url: str, secret: str, message_id: str, body: bytes
) -> Attempt:
    started = time.perf_counter()
    try:
        response = await client.post(
            url, content=body, headers=signed_headers(secret, message_id, body)
        )
    except httpx.HTTPError as exc:
        latency = (time.perf_counter() - started) * 1000
        return Attempt(None, latency, f"{type(exc).__name__}: {exc}"[:ERROR_MAX])
    latency = (time.perf_counter() - started) * 1000
    if response.is_redirect:
        return Attempt(response.status_code, latency, "redirects are not followed")
    error = None if response.is_success else f"HTTP {response.status_code}"
    return Attempt(response.status_code, latency, error)
