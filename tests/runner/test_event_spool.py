"""The event spool is bounded: when full, the oldest events go, each counted; an event the
broker refuses for good is dropped (and counted) instead of blocking the ones behind it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serving
from voicefleet import cloudevents_codec
from voicefleet.event_sink import EventSink
from voicefleet.event_spool import EventSpool

KIND = "io.voicefleet.test.spooled"


def _dropped() -> float:
    value = REGISTRY.get_sample_value(
        "voicefleet_runner_events_spool_dropped_total", {"type": KIND}
    )
    return value or 0.0


async def _put(spool: EventSpool, event_id: str) -> None:
    headers, body = cloudevents_codec.encode(KIND, "/test", {"pad": "x" * 900}, event_id=event_id)
    await spool.put(KIND, headers, body)


def _ids(spool: EventSpool) -> list[str]:
    return [str(cloudevents_codec.parse(*_entry(p))["id"]) for p in spool.waiting()]


def _entry(path: Path) -> tuple[dict[str, str], bytes]:
    entry = json.loads(path.read_bytes())
    return entry["headers"], base64.b64decode(entry["body"])


async def test_a_full_spool_drops_its_oldest_events_and_counts_them(tmp_path: Path) -> None:
    spool = EventSpool(tmp_path / "spool", max_bytes=5000)
    before = _dropped()
    for n in range(6):
        await _put(spool, f"event-{n}")
    kept = _ids(spool)
    assert kept == [f"event-{n}" for n in range(6 - len(kept), 6)] and 2 <= len(kept) < 6
    assert sum(p.stat().st_size for p in spool.waiting()) <= 5000
    assert _dropped() - before == 6 - len(kept)


async def test_an_event_refused_for_good_is_dropped_and_the_rest_are_sent(
    tmp_path: Path,
) -> None:
    taken: list[str] = []

    async def broker(request: Request) -> Response:
        event_id = request.headers["ce-id"]
        if event_id == "malformed":
            return Response(status_code=400)
        taken.append(event_id)
        return Response(status_code=202)

    spool = EventSpool(tmp_path / "spool")
    for event_id in ("first", "malformed", "last"):
        await _put(spool, event_id)
    before = _dropped()
    async with serving(Starlette(routes=[Route("/", broker, methods=["POST"])])) as url:
        async with httpx.AsyncClient() as http:
            assert await spool.flush(EventSink(http, url + "/", attempts=1)) == 0
    assert taken == ["first", "last"] and not spool.waiting()
    assert _dropped() - before == 1
