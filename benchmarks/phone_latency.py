"""Phone calls: what the media path adds, and how soon a caller hears the greeting.

1. The media path's round trip. A scripted Twilio caller sends a media message through the
   gateway's WebSocket, the gateway relays it into the session's Redis stream, a stand-in for
   the runner's end (runner/relay_socket.py reading that stream) sends it straight back
   through the outbound stream, and the gateway puts it on the caller's socket: caller →
   gateway → Redis → runner side → Redis → gateway → caller, with no bot in between. The peer
   is a WebSocket echo served the same way (uvicorn, in-process), i.e. a provider socket that
   ended in the runner itself: the ratio is what the relay costs over that.
2. Answer → greeting on the dev stack (`voicefleet dev`, two warm runners, the offline
   providers): from Twilio's webhook (the call answered) to the first loud audio the caller
   hears, per call; the peer is a WebRTC call to the same stack (`POST /start` → audible).

    .venv/bin/python benchmarks/phone_latency.py --messages 500 --calls 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from devstack.ports import free_port  # noqa: E402
from functions import asgi_app  # noqa: E402
from functions.gateway import context as gateway_context  # noqa: E402
from functions.gateway.asgi import with_media_streams  # noqa: E402
from harness.stack import start_stack, stop_stack  # noqa: E402
from harness.twilio_caller import TwilioCaller  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402
from voicefleet import cloudevents_codec  # noqa: E402
from voicefleet.contracts import Keys  # noqa: E402
from voicefleet.media_relay import MediaEnd, MediaStream  # noqa: E402
from voicefleet.redis_conn import EmbeddedRedis  # noqa: E402
from voicefleet.redis_conn import connect as redis_connect  # noqa: E402

ACCOUNT = "AC" + "b" * 32
TOKEN = "bench-token"
# A media message as Twilio sends it: 20 ms of μ-law, base64 (about 300 bytes of JSON).
PAYLOAD = "/" * 216


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """`app` on a loopback port (uvicorn, as the dev stack serves it) while the block runs."""
    port = free_port()
    config = uvicorn.Config(app, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    # Bound before serving starts, so a client may connect at once.
    task = asyncio.create_task(server.serve(sockets=[config.bind_socket()]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Sink:
    """The broker's ingress (K_SINK): takes every launch and keeps its session id."""

    def __init__(self) -> None:
        self.session_ids: list[str] = []
        self.app = Starlette(routes=[Route("/", self._launch, methods=["POST"])])

    async def _launch(self, request: Request) -> Response:
        event = cloudevents_codec.parse(request.headers, await request.body())
        self.session_ids.append(cloudevents_codec.data_of(event)["session_id"])
        return Response(status_code=202)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(q * (len(ordered) - 1)), len(ordered) - 1)]


def report(name: str, values: list[float]) -> str:
    return (
        f"{name}: p50 {pct(values, 0.5):.2f} ms, p95 {pct(values, 0.95):.2f} ms (n={len(values)})"
    )


async def _echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        return


async def _round_trips(socket: object, messages: int) -> list[float]:
    times: list[float] = []
    for i in range(messages):
        message = json.dumps(
            {"event": "media", "sequenceNumber": str(i), "media": {"payload": PAYLOAD}}
        )
        started = time.perf_counter()
        await socket.send(message)  # type: ignore[attr-defined]
        while True:
            answer = json.loads(await socket.recv())  # type: ignore[attr-defined]
            if answer.get("sequenceNumber") == str(i):
                break
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.02 - min(times[-1] / 1000, 0.02))  # Twilio's pace
    return times


async def path_round_trip(redis_url: str, messages: int) -> tuple[list[float], list[float]]:
    sink = Sink()
    accounts = json.dumps({ACCOUNT: {"tenant": "bench", "auth_token": TOKEN}})
    async with (
        serving(sink.app) as sink_url,
        serving(Starlette(routes=[WebSocketRoute("/", _echo)])) as echo_url,
    ):
        os.environ.update(
            {"REDIS_URL": redis_url, "K_SINK": sink_url, "VOICEFLEET_API_KEYS": "bench:k",
             "VOICEFLEET_TWILIO_ACCOUNTS": accounts}
        )  # fmt: skip
        await gateway_context.context.reset()
        async with serving(with_media_streams(asgi_app("gateway"))) as url:
            caller = TwilioCaller(url, account_sid=ACCOUNT, auth_token=TOKEN)
            await caller.dial()
            (session_id,) = sink.session_ids
            redis = redis_connect(redis_url, blocking=True)
            inbound = MediaStream(redis, Keys.media_in(session_id))
            outbound = MediaStream(redis, Keys.media_out(session_id))

            async def runner_side() -> None:  # echoes what the caller sends
                while True:
                    for item in await inbound.receive(1.0):
                        if isinstance(item, MediaEnd):
                            return
                        if '"media"' in item and '"sequenceNumber"' in item:
                            await outbound.send(item)

            echo = asyncio.create_task(runner_side())
            assert caller.answer and caller.answer.stream_url
            async with connect(caller.answer.stream_url) as socket:
                await socket.send(json.dumps(caller.connected_message()))
                await socket.send(json.dumps(caller.start_message(caller.answer.parameters)))
                relayed = await _round_trips(socket, messages)
            echo.cancel()
            await redis.aclose()
        await gateway_context.context.reset()
        async with connect(echo_url.replace("http", "ws") + "/") as socket:
            direct = await _round_trips(socket, messages)
    return relayed, direct


async def answer_to_greeting(calls: int) -> tuple[list[float], list[float]]:
    """Per call, from the webhook (the moment Twilio has answered) to the first loud audio the
    caller hears; beside it, a WebRTC call to the same stack from `POST /start` to its first
    audible audio (the client's own set-up left out), one of each in turn."""
    os.environ.setdefault("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the greeting needs no LLM
    accounts = json.dumps({ACCOUNT: {"tenant": "default", "auth_token": TOKEN}})
    stack = start_stack("--warm", "2", "--max", "2", env={"VOICEFLEET_TWILIO_ACCOUNTS": accounts})
    phone: list[float] = []
    webrtc: list[float] = []
    try:
        for _ in range(calls):
            caller = TwilioCaller(stack.url, account_sid=ACCOUNT, auth_token=TOKEN)
            answered = time.monotonic()
            await caller.dial()
            await caller.connect()
            heard = await caller.wait_for_audio(60)
            phone.append((heard - answered) * 1000)
            await caller.hang_up()
            await asyncio.sleep(3.0)  # a runner is free again before the next call
            async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
                webrtc.append(await call.wait_for_audio(60) * 1000)
            await asyncio.sleep(3.0)
    finally:
        stop_stack(stack)
    return phone, webrtc


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    if args.messages:
        embedded = None if os.environ.get("REDIS_URL") else EmbeddedRedis()
        redis_url = os.environ.get("REDIS_URL") or embedded.start()  # type: ignore[union-attr]
        try:
            relayed, direct = await path_round_trip(redis_url, args.messages)
        finally:
            if embedded is not None:
                embedded.stop()
            for name in (
                "REDIS_URL",
                "K_SINK",
                "VOICEFLEET_API_KEYS",
                "VOICEFLEET_TWILIO_ACCOUNTS",
            ):
                os.environ.pop(name, None)  # the dev stack below brings its own
        print(report("round trip through gateway → Redis → runner side → back", relayed))
        print(report("round trip, WebSocket echo straight to the peer", direct))
        p50, p95 = pct(relayed, 0.5) / pct(direct, 0.5), pct(relayed, 0.95) / pct(direct, 0.95)
        print(f"ratio p50 x{p50:.2f}, p95 x{p95:.2f}")
    if args.calls:
        phone, webrtc = await answer_to_greeting(args.calls)
        print(report("answer → greeting, phone (webhook → first loud audio)", phone))
        print(report("start → greeting, WebRTC on the same stack", webrtc))
        ratio = pct(phone, 0.5) / pct(webrtc, 0.5), pct(phone, 0.95) / pct(webrtc, 0.95)
        print(f"ratio p50 x{ratio[0]:.2f}, p95 x{ratio[1]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
