"""Runs a claimed phone call: the provider's stream, relayed by the gateway through Redis,
into the bot, and the bot's voice back.

The runner holds the launch as for any call (the pod stays busy for Knative); the media
arrives on the session's own Redis stream, so it needs no address of its own and reads only
its call's messages.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bot.bot import BotFailed, BotHooks, run_bot
from bot.config import SessionConfig
from bot.phone import phone_transport
from bot.preload import Preloaded
from runner.relay_socket import RelaySocket
from voicefleet.contracts import Keys, LaunchPayload
from voicefleet.media_relay import MediaStream

# The telephone's own rate: audio made at 8 kHz is what the caller hears, so the output
# transport resamples once, and the serializer only encodes μ-law.
PHONE_SAMPLE_RATE = 8000


async def run_phone_call(
    launch: LaunchPayload,
    config: SessionConfig,
    hooks: BotHooks,
    preloaded: Preloaded,
    redis: Redis,
    *,
    start_timeout_s: float,
) -> None:
    """Until the call ends; `redis` must be a client without a read timeout (it waits on
    the session's stream)."""
    socket = RelaySocket(
        MediaStream(redis, Keys.media_in(launch.session_id)),
        MediaStream(redis, Keys.media_out(launch.session_id)),
        on_hang_up=hooks.end,
    )
    try:
        waiting = asyncio.create_task(socket.wait_for_start())
        ended = asyncio.create_task(hooks.ended.wait())
        try:
            done, _ = await asyncio.wait(
                (waiting, ended), timeout=start_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (waiting, ended):
                task.cancel()
        if waiting not in done:
            if ended in done:
                return  # ended before it was answered (not answered, an admin's end)
            raise BotFailed(f"no media stream arrived within {start_timeout_s:g}s")
        try:
            start = waiting.result()
        except ConnectionError as exc:
            hooks.end(str(exc))  # hung up before the stream started
            return
        session = phone_transport(socket, launch.transport, start, sample_rate=PHONE_SAMPLE_RATE)
        await run_bot(session, preloaded, config, hooks)
    finally:
        await socket.close()
