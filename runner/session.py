"""Runs one claimed session from launch to its final status.

Claim first (a retried or duplicate launch stops here), then heartbeat the lease while the
bot runs, enforce the session cap in-process, and always record how the session ended.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from loguru import logger
from pipecat.transports.smallwebrtc.connection import IceServer
from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.admin_channel import AdminChannel
from bot.bot import BotFailed, BotHooks, run_bot
from bot.call_record import CallRecord
from bot.config import BotSettings, SessionConfig
from bot.preload import Preloaded
from bot.recording import CallAudio
from bot.transports import SessionTransport, daily_transport, webrtc_transport
from runner.phone import run_phone_call
from runner.report import ReportPublisher, build_report
from runner.settings import RunnerSettings
from runner.timings import StartTimings
from runner.webrtc_signalling import answer
from voicefleet.admin_queue import AdminQueue
from voicefleet.contracts import (
    LaunchPayload,
    SessionEnded,
    SessionStatus,
    TransportKind,
    admin_address,
)
from voicefleet.observability.metrics import SESSION_DURATION, SESSIONS
from voicefleet.observability.reasons import reason_label
from voicefleet.reports import SessionStarted
from voicefleet.session_store import RUNNER_LOST, SessionStore, no_capacity
from voicefleet.signalling import SignallingRelay, SignalMessage

# The bot says goodbye at the cap; this long after it the runner stops it regardless.
CAP_GRACE_S = 20.0


@dataclass
class Outcome:
    status: SessionStatus
    reason: str


class SessionRunner:
    def __init__(
        self,
        settings: RunnerSettings,
        store: SessionStore,
        relay: SignallingRelay,
        preloaded: Preloaded,
        bot_settings: BotSettings,
        *,
        admin_queue: AdminQueue,
        pubsub_redis: Redis,
        ready_at: float = 0.0,
        reports: ReportPublisher | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._relay = relay
        self._admin_queue = admin_queue
        self._pubsub_redis = pubsub_redis
        self._preloaded = preloaded
        self._bot_settings = bot_settings
        self._ready_at = ready_at  # when this runner became ready (time.time())
        self._reports = reports
        self._ice_servers = [IceServer(**s) for s in json.loads(settings.ice_servers_json)]

    async def run(self, launch: LaunchPayload) -> SessionEnded:
        runner_id = self._settings.runner_id
        claim = await self._store.claim(
            launch.session_id,
            runner_id,
            room_url=launch.room_url,
            lease_ms=self._settings.lease_ms,
            queue_timeout_s=self._settings.queue_timeout_s,
        )
        if claim.reason in ("expired", "lost"):
            # Waited past the queue-time bound, or a retry after its runner died mid-call:
            # recorded as failed, and no bot (a second one would join a room that had one).
            reason = no_capacity(self._settings.queue_timeout_s)
            if claim.reason == "lost":
                reason = RUNNER_LOST
            logger.warning("launch {} not run: {}", launch.session_id, reason)
            SESSIONS.labels(status="failed", reason=reason_label(reason)).inc()
            return SessionEnded(
                session_id=launch.session_id, status="failed", reason=reason, runner=runner_id
            )
        if not claim.claimed:
            SESSIONS.labels(status="duplicate", reason=reason_label(claim.reason)).inc()
            logger.info("launch {} not run: {}", launch.session_id, claim.reason)
            return SessionEnded(
                session_id=launch.session_id,
                status="duplicate",
                reason=claim.reason,
                runner=runner_id,
            )
        timings = StartTimings(
            self._store,
            launch.session_id,
            created_at=launch.created_at,
            runner_ready_at=self._ready_at,
        )
        await timings.claimed()
        logger.info(
            "session {} claimed by {}{}",
            launch.session_id,
            runner_id,
            " (cold start)" if timings.cold_start else "",
        )

        record = CallRecord()
        form = self._settings.recording_format(launch.tenant)
        audio = CallAudio(form=form) if form and self._reports else None
        announced: list[asyncio.Task[None]] = []

        async def joined() -> None:
            await self._store.mark_joined(launch.session_id)
            await timings.joined()
            if self._reports is not None:  # sent beside the call, never holding it up
                started = SessionStarted(
                    session_id=launch.session_id,
                    tenant=launch.tenant,
                    transport=launch.transport,
                    started_at=record.started_at,
                    cold_start=timings.cold_start,
                )
                announced.append(asyncio.create_task(self._reports.started(started)))

        hooks = BotHooks(
            on_joined=joined,
            on_first_audio=timings.first_audio,
            admin=AdminChannel(
                self._admin_queue,
                self._pubsub_redis,
                address=admin_address(launch.session_id, launch.room_url),
                session_id=launch.session_id,
                tenant=launch.tenant,
            ),
            max_duration_s=self._settings.session_max_s,
            record=record,
            audio=audio,
        )
        heartbeat = asyncio.create_task(self._heartbeat(launch, hooks))
        started = time.monotonic()
        try:
            outcome = await self._run_capped(launch, hooks, timings)
        finally:
            heartbeat.cancel()
        await self._store.finish(
            launch.session_id, outcome.status, room_url=launch.room_url, reason=outcome.reason
        )
        duration_s = time.monotonic() - started
        await asyncio.gather(*announced, return_exceptions=True)
        if self._reports is not None:
            await self._send_report(launch, record, outcome, audio)
        SESSIONS.labels(status=outcome.status.value, reason=reason_label(outcome.reason)).inc()
        SESSION_DURATION.labels(status=outcome.status.value).observe(duration_s)
        logger.info(
            "session {} {} after {:.1f}s: {}",
            launch.session_id,
            outcome.status.value,
            duration_s,
            outcome.reason,
        )
        return SessionEnded(
            session_id=launch.session_id,
            status="ended" if outcome.status is SessionStatus.ENDED else "failed",
            reason=outcome.reason,
            runner=runner_id,
        )

    async def _send_report(
        self, launch: LaunchPayload, record: CallRecord, outcome: Outcome, audio: CallAudio | None
    ) -> None:
        assert self._reports is not None
        try:
            session = await self._store.get(launch.session_id)
        except RedisError:
            session = None  # the report goes without its start-up spans
        report = build_report(
            launch, record, status=outcome.status, reason=outcome.reason, session=session
        )
        if audio is not None:
            report.recordings = await self._reports.recordings(report, audio)
        await self._reports.report(report)

    async def _run_capped(
        self, launch: LaunchPayload, hooks: BotHooks, timings: StartTimings
    ) -> Outcome:
        try:
            config = SessionConfig.build(
                self._bot_settings,
                session_id=launch.session_id,
                tenant=launch.tenant,
                body=launch.body,
            )
        except ValidationError as exc:
            return Outcome(
                SessionStatus.FAILED, f"invalid session options: {exc.errors()[0]['msg']}"
            )
        try:
            async with asyncio.timeout(self._settings.session_max_s + CAP_GRACE_S):
                if launch.transport is TransportKind.WEBRTC:
                    await self._run_webrtc(launch, config, hooks, timings)
                elif launch.transport.is_phone:
                    await self._run_phone(launch, config, hooks)
                else:
                    await self._run_daily(launch, config, hooks)
        except TimeoutError:
            return Outcome(SessionStatus.ENDED, "maximum session duration reached")
        except BotFailed as exc:
            return Outcome(SessionStatus.FAILED, str(exc))
        except Exception as exc:  # noqa: BLE001 - any crash must still end the session record
            logger.exception("session {} crashed", launch.session_id)
            return Outcome(SessionStatus.FAILED, f"bot crashed: {type(exc).__name__}")
        return Outcome(SessionStatus.ENDED, hooks.end_reason or "client left")

    async def _run_webrtc(
        self, launch: LaunchPayload, config: SessionConfig, hooks: BotHooks, timings: StartTimings
    ) -> None:
        handler = SmallWebRTCRequestHandler(ice_servers=self._ice_servers or None)
        bot_task: asyncio.Task[None] | None = None
        rate = self._bot_settings.audio_out_sample_rate

        async def on_connection(connection: object) -> None:
            nonlocal bot_task
            session = webrtc_transport(connection, sample_rate=rate)
            bot_task = asyncio.create_task(run_bot(session, self._preloaded, config, hooks))

        try:
            deadline = time.monotonic() + self._settings.first_offer_timeout_s
            while bot_task is None:
                remaining = deadline - time.monotonic()
                message = await self._relay.receive(
                    launch.session_id, timeout_s=max(remaining, 0.01)
                )
                if message is None:
                    raise BotFailed(
                        f"no WebRTC offer arrived within {self._settings.first_offer_timeout_s:g}s"
                    )
                if message.kind == "end":
                    hooks.end(message.payload.get("reason", "ended by client"))
                    return
                timings.offered()
                reply = await answer(handler, message, on_connection)
                await self._relay.reply(launch.session_id, message.request_id, reply)
                if bot_task is not None:
                    timings.answered()
            inbox = asyncio.create_task(self._serve_inbox(launch, hooks, handler, on_connection))
            try:
                await bot_task
            finally:
                inbox.cancel()
        finally:
            if bot_task is not None and not bot_task.done():
                bot_task.cancel()
            await handler.close()  # type: ignore[no-untyped-call]

    async def _run_daily(
        self, launch: LaunchPayload, config: SessionConfig, hooks: BotHooks
    ) -> None:
        if not launch.room_url:
            raise BotFailed("a Daily session needs a room_url")
        token = await self._store.secret(launch.session_id)
        session: SessionTransport = daily_transport(
            launch.room_url,
            token,
            sample_rate=self._bot_settings.audio_out_sample_rate,
            dialin=config.dialin,
            dialout=config.dialout,
            api_url=self._bot_settings.daily_api_url,
            api_key=self._bot_settings.daily_api_key or "",
        )
        inbox = asyncio.create_task(self._serve_inbox(launch, hooks, None, None))
        try:
            await run_bot(session, self._preloaded, config, hooks)
        finally:
            inbox.cancel()

    async def _run_phone(
        self, launch: LaunchPayload, config: SessionConfig, hooks: BotHooks
    ) -> None:
        inbox = asyncio.create_task(self._serve_inbox(launch, hooks, None, None))
        try:
            await run_phone_call(
                launch,
                config,
                hooks,
                self._preloaded,
                self._pubsub_redis,
                start_timeout_s=self._settings.first_offer_timeout_s,
            )
        finally:
            inbox.cancel()

    async def _serve_inbox(
        self,
        launch: LaunchPayload,
        hooks: BotHooks,
        handler: SmallWebRTCRequestHandler | None,
        on_connection: object,
    ) -> None:
        """Renegotiations, ICE candidates and hang-ups for the running session."""
        while True:
            message: SignalMessage | None = await self._relay.receive(
                launch.session_id, timeout_s=0
            )
            if message is None:
                continue
            if message.kind == "end":
                hooks.end(message.payload.get("reason", "ended by client"))
                continue
            if handler is None:
                continue
            reply = await answer(handler, message, on_connection)  # type: ignore[arg-type]
            await self._relay.reply(launch.session_id, message.request_id, reply)

    async def _heartbeat(self, launch: LaunchPayload, hooks: BotHooks) -> None:
        while True:
            await asyncio.sleep(self._settings.heartbeat_s)
            try:
                ours = await self._store.heartbeat(
                    launch.session_id,
                    self._settings.runner_id,
                    room_url=launch.room_url,
                    lease_ms=self._settings.lease_ms,
                )
            except RedisError as exc:
                logger.warning("heartbeat for {} failed: {}", launch.session_id, exc)
                continue
            if not ours:
                logger.error("session {}: lease lost; stopping the bot", launch.session_id)
                hooks.end("lease lost to another runner")
                return
