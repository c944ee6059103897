"""Sessions and launch CloudEvents as the gateway makes them, and the runner's replies read back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from redis.asyncio import Redis

from voicefleet import cloudevents_codec
from voicefleet.contracts import (
    GATEWAY_SOURCE,
    LAUNCH_EVENT,
    SESSION_ENDED_EVENT,
    LaunchPayload,
    SessionEnded,
    SessionRecord,
    SessionStatus,
    TransportKind,
)
from voicefleet.session_store import SessionStore

T = TypeVar("T")


async def queued_session(
    redis: Redis,
    *,
    transport: TransportKind = TransportKind.WEBRTC,
    room_url: str | None = None,
    tenant: str = "t",
) -> LaunchPayload:
    """A `queued` record in Redis, as `POST /start` leaves it, and the launch that goes with it."""
    now = time.time()
    session_id = uuid.uuid4().hex
    await SessionStore(redis).create(
        SessionRecord(
            session_id=session_id,
            tenant=tenant,
            status=SessionStatus.QUEUED,
            transport=transport,
            room_url=room_url,
            created_at=now,
            updated_at=now,
        )
    )
    return LaunchPayload(
        session_id=session_id, tenant=tenant, transport=transport, room_url=room_url
    )


def launch_event(launch: LaunchPayload) -> tuple[dict[str, str], bytes]:
    """The binary-mode CloudEvent the gateway sends to the broker for this launch."""
    return cloudevents_codec.encode(
        LAUNCH_EVENT,
        GATEWAY_SOURCE,
        launch.model_dump(mode="json"),
        event_id=launch.session_id,
    )


async def post_launch(client: httpx.AsyncClient, url: str, launch: LaunchPayload) -> httpx.Response:
    headers, body = launch_event(launch)
    return await client.post(url, headers=headers, content=body)


def session_ended(response: httpx.Response) -> SessionEnded:
    """The `io.voicefleet.session.ended` CloudEvent a runner answers a launch with."""
    assert response.status_code == 200, response.text
    event = cloudevents_codec.parse(response.headers, response.content)
    assert event["type"] == SESSION_ENDED_EVENT
    return SessionEnded.model_validate(cloudevents_codec.data_of(event))


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.05,
) -> T:
    """Poll `probe` until `accept` holds (for state with no event to wait on); the last value."""
    deadline = time.monotonic() + timeout_s
    value = await probe()
    while not accept(value) and time.monotonic() < deadline:
        await asyncio.sleep(interval_s)
        value = await probe()
    return value
