"""The local broker, over real HTTP: the broker and its subscribers run under uvicorn on
127.0.0.1, and subscribers read what they get with the ``cloudevents`` SDK, as the runner and the
gateway do."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent, from_http
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.broker import LocalBroker, backoff_delay, matches
from devstack.cloudevent_http import BrokerEvent, parse_event
from devstack.manifests import (
    GATEWAY_SERVICE,
    RUNNER_SERVICE,
    TriggerSpec,
    default_knative_dir,
    load_triggers,
)
from tests.support.servers import serving
from voicefleet.contracts import LAUNCH_EVENT, SESSION_ENDED_EVENT

LAUNCH = LAUNCH_EVENT
ENDED = SESSION_ENDED_EVENT
LAUNCH_TRIGGER = TriggerSpec(
    name="runner-launch",
    broker="voicefleet",
    filter_attributes={"type": LAUNCH},
    subscriber_service=RUNNER_SERVICE,
    retry=3,
    backoff_policy="exponential",
    backoff_delay_s=0.01,
    timeout_s=5.0,
    dead_letter_service=GATEWAY_SERVICE,
    dead_letter_uri_path="/deadletter",
)
ENDED_TRIGGER = TriggerSpec(
    name="session-ended",
    broker="voicefleet",
    filter_attributes={"type": ENDED},
    subscriber_service=GATEWAY_SERVICE,
    subscriber_uri_path="/events",
)
Reply = Callable[[int], tuple[dict[str, str], bytes]]


@dataclass(frozen=True)
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    def event(self) -> CloudEvent:
        return from_http(self.headers, self.body)


class Subscriber:
    """A Knative Service stand-in: records requests, answers from a script of statuses."""

    def __init__(
        self,
        statuses: Sequence[int] = (),
        *,
        error_body: bytes = b"",
        reply: Reply | None = None,
        hold: int = 0,
    ) -> None:
        self.received: list[Received] = []
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self._statuses = list(statuses)
        self._error_body = error_body
        self._reply = reply
        self._hold = hold  # the first `hold` requests wait for `release`
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        self.received.append(
            Received(time.monotonic(), request.url.path, dict(request.headers), body)
        )
        count = len(self.received)
        self.arrived.set()
        if count <= self._hold:
            await self.release.wait()
        status = self._statuses.pop(0) if self._statuses else 200
        if status >= 300:
            return Response(self._error_body, status_code=status)
        if self._reply is None:
            return Response(status_code=status)
        headers, content = self._reply(count)
        return Response(content, status_code=status, headers=headers)


@asynccontextmanager
async def stack(
    triggers: Sequence[TriggerSpec], runner: Subscriber, gateway: Subscriber | None = None
) -> AsyncIterator[tuple[LocalBroker, str, dict[str, str]]]:
    """Runner and gateway subscribers plus the broker, each under uvicorn in this event loop;
    yields (broker, broker URL, service URLs)."""
    gateway = gateway or Subscriber()
    async with serving(runner.app) as runner_url, serving(gateway.app) as gateway_url:
        urls = {RUNNER_SERVICE: runner_url, GATEWAY_SERVICE: gateway_url}
        broker = LocalBroker(triggers, urls.__getitem__)
        try:
            async with serving(broker.app) as broker_url:
                yield broker, broker_url, urls
        finally:
            runner.release.set()
            gateway.release.set()
            await broker.close()


def launch_headers(event_id: str = "launch-1", **extra: str) -> dict[str, str]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/gateway",
        "ce-type": LAUNCH,
        "content-type": "application/json",
    }
    return headers | extra


async def post(url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url + "/", headers=headers, content=body)


async def settle(broker: LocalBroker) -> None:
    await asyncio.wait_for(broker.wait_idle(), timeout=20)


def reply_with(event_type: str, structured: bool = False) -> Reply:
    def reply(count: int) -> tuple[dict[str, str], bytes]:
        attributes = {"type": event_type, "source": "/runner", "id": f"reply-{count}"}
        event = CloudEvent(attributes, {"session_id": "s-1"})
        return to_structured(event) if structured else to_binary(event)

    return reply


# --- pure helpers ------------------------------------------------------------------------------


def test_backoff_follows_knatives_formula() -> None:
    assert [backoff_delay("exponential", 0.2, n) for n in range(4)] == pytest.approx(
        [0.2, 0.4, 0.8, 1.6]
    )
    assert [backoff_delay("linear", 0.2, n) for n in range(4)] == pytest.approx(
        [0.0, 0.2, 0.4, 0.6]
    )


def test_filter_attributes_semantics() -> None:
    event = BrokerEvent(
        {"id": "1", "source": "/s", "specversion": "1.0", "type": LAUNCH, "room": "r1"}
    )
    assert matches({"type": LAUNCH}, event)
    assert matches({"type": LAUNCH, "room": "r1"}, event)
    assert not matches({"type": ENDED}, event)
    assert not matches({"type": LAUNCH, "room": "r2"}, event)
    assert matches({"room": ""}, event)  # empty value: any value, attribute present
    assert not matches({"tenant": ""}, event)  # extension absent
    assert matches({"subject": ""}, event)  # standard attributes always count as present


def test_binary_attributes_are_percent_decoded_and_re_encoded() -> None:
    event = parse_event(launch_headers(**{"ce-subject": "caf%C3%A9 au lait"}), b"{}")
    assert event.attributes["subject"] == "café au lait"
    headers, _ = event.to_binary()
    assert headers["ce-subject"] == "caf%C3%A9%20au%20lait"


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_healthz() -> None:
    async with stack([LAUNCH_TRIGGER], Subscriber()) as (_, broker_url, _):
        async with httpx.AsyncClient() as client:
            response = await client.get(broker_url + "/healthz")
    assert response.status_code == 200


@pytest.mark.asyncio
async def test_binary_event_reaches_only_matching_triggers() -> None:
    runner, gateway = Subscriber(), Subscriber()
    body = b'{"room_url": "https://x.daily.co/r1"}'
    async with stack([LAUNCH_TRIGGER, ENDED_TRIGGER], runner, gateway) as (broker, url, _):
        response = await post(url, launch_headers(**{"ce-launchid": "L1"}), body)
        assert response.status_code == 202
        other = launch_headers("other-1", **{"ce-type": "io.voicefleet.unrelated"})
        assert (await post(url, other, b"{}")).status_code == 202
        await settle(broker)
    assert gateway.received == []
    (got,) = runner.received
    assert got.body == body  # byte for byte
    assert got.headers["ce-id"] == "launch-1" and got.headers["ce-launchid"] == "L1"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["prefer"] == "reply"
    assert "ce-knativebrokerttl" not in got.headers and "ce-time" not in got.headers
    assert broker.stats.delivered == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "data, content_type, expected_body",
    [
        ({"room_url": "https://x.daily.co/r1"}, None, b'{"room_url": "https://x.daily.co/r1"}'),
        ("hello", "text/plain", b"hello"),
    ],
)
async def test_structured_event_is_delivered_in_binary_mode(
    data: Any, content_type: str | None, expected_body: bytes
) -> None:
    runner = Subscriber()
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "launch-2",
        "source": "/gateway",
        "type": LAUNCH,
        "subject": "room-1",
        "time": "2025-01-01T00:00:00Z",
        "data": data,
    }
    if content_type:
        event["datacontenttype"] = content_type
    headers = {"content-type": "application/cloudevents+json"}
    async with stack([LAUNCH_TRIGGER], runner) as (broker, url, _):
        assert (await post(url, headers, json.dumps(event).encode())).status_code == 202
        await settle(broker)
    (got,) = runner.received
    assert got.headers["ce-subject"] == "room-1"
    assert got.headers["ce-time"] == "2025-01-01T00:00:00Z"
    assert got.headers["content-type"] == (content_type or "application/json")
    assert got.body == expected_body
    assert got.event()["id"] == "launch-2"


@pytest.mark.asyncio
async def test_retries_on_503_then_delivers() -> None:
    runner = Subscriber([503, 503])
    trigger = LAUNCH_TRIGGER.model_copy(update={"retry": 5})
    async with stack([trigger], runner) as (broker, url, _):
        await post(url, launch_headers(), b"{}")
        await settle(broker)
    assert len(runner.received) == 3
    assert {r.headers["ce-id"] for r in runner.received} == {"launch-1"}
    assert (broker.stats.delivered, broker.stats.retried, broker.stats.dead_lettered) == (1, 2, 0)


@pytest.mark.asyncio
async def test_exponential_backoff_grows() -> None:
    delay = 0.05
    trigger = LAUNCH_TRIGGER.model_copy(update={"retry": 5, "backoff_delay_s": delay})
    runner = Subscriber([503, 503, 503, 503])
    async with stack([trigger], runner) as (broker, url, _):
        await post(url, launch_headers(), b"{}")
        await settle(broker)
    assert len(runner.received) == 5
    gaps = [b.at - a.at for a, b in zip(runner.received, runner.received[1:], strict=False)]
    # Lower bounds only (a loaded machine makes gaps longer, never shorter): 0.05, 0.1, 0.2, 0.4.
    for n, gap in enumerate(gaps):
        assert gap >= 0.9 * backoff_delay("exponential", delay, n)
    assert gaps[-1] > gaps[0]


@pytest.mark.asyncio
async def test_exhausted_retries_go_to_the_dead_letter_sink() -> None:
    runner, gateway = Subscriber([503] * 10, error_body=b"draining"), Subscriber()
    trigger = LAUNCH_TRIGGER.model_copy(update={"retry": 2})
    async with stack([trigger], runner, gateway) as (broker, url, urls):
        await post(url, launch_headers(), b'{"room_url": "r"}')
        await settle(broker)
    assert len(runner.received) == 3
    (dead,) = gateway.received
    assert dead.path == "/deadletter"
    assert dead.headers["ce-id"] == "launch-1" and dead.body == b'{"room_url": "r"}'
    assert dead.headers["ce-knativeerrorcode"] == "503"
    assert dead.headers["ce-knativeerrordest"] == urls[RUNNER_SERVICE] + "/"
    assert base64.b64decode(dead.headers["ce-knativeerrordata"]) == b"draining"
    assert (broker.stats.retried, broker.stats.dead_lettered, broker.stats.delivered) == (2, 1, 0)


@pytest.mark.asyncio
async def test_non_retryable_400_goes_straight_to_the_dead_letter_sink() -> None:
    runner, gateway = Subscriber([400], error_body=b"room not allowed"), Subscriber()
    async with stack([LAUNCH_TRIGGER], runner, gateway) as (broker, url, _):
        await post(url, launch_headers(), b"{}")
        await settle(broker)
    assert len(runner.received) == 1
    (dead,) = gateway.received
    assert dead.event()["knativeerrorcode"] == "400"
    assert base64.b64decode(dead.headers["ce-knativeerrordata"]) == b"room not allowed"
    assert (broker.stats.retried, broker.stats.dead_lettered) == (0, 1)


@pytest.mark.asyncio
async def test_attempt_timeout_is_retried() -> None:
    runner = Subscriber(hold=1)  # the first attempt never answers
    trigger = LAUNCH_TRIGGER.model_copy(update={"timeout_s": 0.2})
    async with stack([trigger], runner) as (broker, url, _):
        await post(url, launch_headers(), b"{}")
        await settle(broker)
    assert len(runner.received) == 2
    assert (broker.stats.delivered, broker.stats.retried) == (1, 1)


@pytest.mark.asyncio
@pytest.mark.parametrize("structured", [False, True], ids=["binary-reply", "structured-reply"])
async def test_reply_is_published_back_into_the_broker(structured: bool) -> None:
    runner, gateway = Subscriber(reply=reply_with(ENDED, structured)), Subscriber()
    async with stack([LAUNCH_TRIGGER, ENDED_TRIGGER], runner, gateway) as (broker, url, _):
        await post(url, launch_headers(), b"{}")
        await settle(broker)
    (ended,) = gateway.received
    assert ended.path == "/events"
    assert ended.event()["type"] == ENDED and ended.event().data == {"session_id": "s-1"}
    assert "ce-knativebrokerttl" not in ended.headers
    assert (broker.stats.delivered, broker.stats.replies) == (2, 1)


@pytest.mark.asyncio
async def test_reply_loop_is_cut_by_the_broker_ttl() -> None:
    runner = Subscriber(reply=reply_with(LAUNCH))  # every launch answers with another launch
    async with stack([LAUNCH_TRIGGER], runner) as (broker, url, _):
        await post(url, launch_headers(**{"ce-knativebrokerttl": "3"}), b"{}")
        await settle(broker)
    assert len(runner.received) == 3
    assert (broker.stats.replies, broker.stats.dropped) == (3, 1)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers, body",
    [
        ({"content-type": "application/json"}, b"not json at all"),
        ({"content-type": "application/json"}, b'{"room_url": "r"}'),
        ({"content-type": "application/cloudevents+json"}, b"[1, 2]"),
        ({"content-type": "application/cloudevents+json"}, b'{"specversion": "1.0", "id": "x"}'),
        ({"content-type": "application/cloudevents+json"}, b'{"specversion": "9.9", "id": "x"}'),
        ({k: v for k, v in launch_headers().items() if k != "ce-id"}, b"{}"),
        (launch_headers(**{"ce-bad_name": "x"}), b"{}"),
        (launch_headers(**{"ce-source": ""}), b"{}"),
    ],
    ids=[
        "garbage",
        "plain-json",
        "json-list",
        "missing-fields",
        "bad-version",
        "no-ce-id",
        "bad-attribute-name",
        "empty-source",
    ],
)
async def test_malformed_input_is_a_400(headers: dict[str, str], body: bytes) -> None:
    runner = Subscriber()
    async with stack([LAUNCH_TRIGGER], runner) as (broker, url, _):
        response = await post(url, headers, body)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)
    assert runner.received == [] and broker.stats.delivered == 0


@pytest.mark.asyncio
async def test_shipped_trigger_routes_launches_to_the_runner() -> None:
    runner, gateway = Subscriber([503]), Subscriber()
    async with stack(load_triggers(default_knative_dir()), runner, gateway) as (broker, url, _):
        await post(url, launch_headers(), b"{}")
        await settle(broker)
    assert len(runner.received) == 2 and gateway.received == []
    assert (broker.stats.delivered, broker.stats.retried) == (1, 1)


@pytest.mark.asyncio
async def test_close_cancels_held_deliveries() -> None:
    runner = Subscriber(hold=1)  # a launch held open, as for a running session
    trigger = LAUNCH_TRIGGER.model_copy(update={"timeout_s": None})
    async with stack([trigger], runner) as (broker, url, _):
        await post(url, launch_headers(), b"{}")
        await asyncio.wait_for(runner.arrived.wait(), timeout=10)
        assert broker.in_flight == 1
        await asyncio.wait_for(broker.close(), timeout=10)
        assert broker.in_flight == 0
        assert (await post(url, launch_headers("late"), b"{}")).status_code == 503
    assert broker.stats.delivered == 0 and broker.stats.dead_lettered == 0
