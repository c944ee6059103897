"""The runner's end of the media path over a real Redis: the gateway's messages in order, a
hang-up read as a disconnect (and told to the bot), the bot's end told to the gateway."""

from __future__ import annotations

import json

from redis.asyncio import Redis
from starlette.websockets import WebSocketState

from runner.relay_socket import BOT_ENDED, RelaySocket
from voicefleet.media_relay import MediaEnd, MediaStream


def _socket(redis: Redis, hung_up: list[str]) -> tuple[RelaySocket, MediaStream, MediaStream]:
    gateway_in, gateway_out = MediaStream(redis, "t:in"), MediaStream(redis, "t:out")
    socket = RelaySocket(
        MediaStream(redis, "t:in"), MediaStream(redis, "t:out"), on_hang_up=hung_up.append
    )
    return socket, gateway_in, gateway_out


async def test_start_then_messages_then_a_hang_up(redis: Redis) -> None:
    hung_up: list[str] = []
    socket, gateway_in, _ = _socket(redis, hung_up)
    await gateway_in.send(json.dumps({"event": "connected"}))
    await gateway_in.send(json.dumps({"event": "start", "start": {"streamSid": "MZ1"}}))
    await gateway_in.send(json.dumps({"event": "media", "media": {"payload": "//8="}}))
    await gateway_in.end("caller hung up")
    start = await socket.wait_for_start()
    assert start["start"]["streamSid"] == "MZ1"
    media = await socket.receive()
    assert json.loads(media["text"])["event"] == "media"
    assert await socket.receive() == {"type": "websocket.disconnect", "code": 1000}
    assert hung_up == ["caller hung up"] and socket.client_state is WebSocketState.DISCONNECTED
    await socket.close()  # nothing to tell: the caller is gone
    assert await redis.xlen("t:out") == 0


async def test_the_bots_words_and_its_end_reach_the_gateway(redis: Redis) -> None:
    hung_up: list[str] = []
    socket, _, gateway_out = _socket(redis, hung_up)
    await socket.send_text('{"event": "clear"}')
    await socket.close()
    await socket.close()  # once only
    assert await gateway_out.receive(1.0) == ['{"event": "clear"}', MediaEnd(BOT_ENDED)]
    assert await socket.receive() == {"type": "websocket.disconnect", "code": 1000}
    assert hung_up == []
