"""The runner's HTTP face: launches in, session-ended CloudEvents out, health for Knative.

A launch request is held open for the whole session on purpose: Knative's autoscaler only
sees in-flight requests, so an answered launch would make a busy pod look idle.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from loguru import logger
from opentelemetry import trace
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.config import BotSettings
from bot.preload import Preloaded
from runner.http_api import runner_app
from runner.memory import release_freed_memory
from runner.report import ReportPublisher
from runner.session import SessionRunner
from runner.settings import RunnerSettings
from voicefleet import cloudevents_codec
from voicefleet.admin_queue import AdminQueue
from voicefleet.cloudevent_intake import event_payload, read_event
from voicefleet.contracts import (
    LAUNCH_EVENT,
    SESSION_ENDED_EVENT,
    LaunchPayload,
    SessionEnded,
    SessionRecord,
    SessionStatus,
    TransportKind,
    runner_source,
)
from voicefleet.event_sink import EventSink
from voicefleet.event_spool import SpoolSender
from voicefleet.http_client import async_client
from voicefleet.http_errors import ApiError, error_response
from voicefleet.observability import tracing
from voicefleet.observability.http import ObservedApp, metrics_endpoint
from voicefleet.observability.metrics import (
    RUNNER_BUSY,
    RUNNER_DRAINING,
    RUNNER_PRELOADED,
    SESSIONS,
)
from voicefleet.redis_conn import connect
from voicefleet.rooms import RoomNotAllowed, check_room_url
from voicefleet.session_store import SessionStore
from voicefleet.signalling import SignallingRelay


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return error_response(status, message, headers=headers)


class RunnerService:
    """One runner process: at most one session at a time, then free again (standby mode)."""

    def __init__(self, settings: RunnerSettings, bot_settings: BotSettings) -> None:
        self.settings = settings
        self.bot_settings = bot_settings
        self.redis = connect(settings.redis_url)
        self.store = SessionStore(self.redis)
        self.blocking_redis = connect(settings.redis_url, blocking=True)
        self.relay = SignallingRelay(self.blocking_redis)
        self.admin_queue = AdminQueue(self.redis)
        self.reports: ReportPublisher | None = None
        self._sink_http: httpx.AsyncClient | None = None
        # What the broker did not take is spooled; a pod's slot leaves the sending of it to
        # its pod, a runner on its own (auto-start, or standby without a pod) sends it itself.
        self.spool_sender: SpoolSender | None = None
        if settings.k_sink:
            self._sink_http = async_client(timeout=10.0)
            sink = EventSink(
                self._sink_http, settings.k_sink, token_file=Path(settings.sink_token_file)
            )
            spool = settings.event_spool()
            self.reports = ReportPublisher(
                sink,
                settings.runner_id,
                max_event_bytes=settings.report_event_max_bytes,
                blobs=settings.blobs(),
                spool=spool,
            )
            if not settings.slot_socket:
                self.spool_sender = SpoolSender(spool, sink)
        self._preloaded: Preloaded | None = None
        # Wall-clock time the runner became able to take launches: a launch created before it
        # waited for this runner to start (a cold start).
        self.ready_at = 0.0
        self.current: str | None = None
        self.draining = False
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self.spool_sender is not None:
            await self.spool_sender.stop(self.settings.event_spool_flush_s)
        if self._sink_http is not None:
            await self._sink_http.aclose()
        await self.redis.aclose()
        await self.blocking_redis.aclose()

    @property
    def preloaded(self) -> Preloaded | None:
        return self._preloaded

    @preloaded.setter
    def preloaded(self, value: Preloaded | None) -> None:
        self._preloaded = value
        self.ready_at = time.time() if value is not None else 0.0

    @property
    def ready(self) -> bool:
        """Preloaded and not draining, as a pod's readiness (runner/pod.py): busy is not
        unready; a launch while busy is refused with a retryable 503 (`refusal`)."""
        return self.preloaded is not None and not self.draining

    def refusal(self, launch: LaunchPayload) -> Response | None:
        """Why this runner will not take the launch now, or None.

        A retry of the session running here is not refused: `run_launch` calls it a duplicate.
        """
        if self.preloaded is None:
            return _error(503, "runner is still loading", **{"Retry-After": "1"})
        if self.draining:
            return _error(503, "runner is shutting down")
        try:
            if launch.room_url:
                check_room_url(launch.room_url, self.settings.allowed_room_hosts)
        except RoomNotAllowed as exc:
            return _error(422, str(exc))
        if self._lock.locked() and launch.session_id != self.current:
            return _error(503, "runner is busy with another session", **{"Retry-After": "1"})
        return None

    async def run_launch(
        self, launch: LaunchPayload, trace_context: Mapping[str, str] | None = None
    ) -> SessionEnded | Response:
        """Run it in the session's trace (`trace_context`: the launch event's `traceparent`),
        and with every line logged for it, the bot's included, saying which session it is."""
        with (
            tracing.tracer().start_as_current_span(
                "session",
                context=tracing.context_from(trace_context or {}),
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "voicefleet.session_id": launch.session_id,
                    "voicefleet.tenant": launch.tenant,
                    "voicefleet.transport": launch.transport.value,
                    "voicefleet.runner": self.settings.runner_id,
                },
            ),
            logger.contextualize(
                session_id=launch.session_id, tenant=launch.tenant, runner=self.settings.runner_id
            ),
        ):
            return await self._run_launch(launch)

    async def _run_launch(self, launch: LaunchPayload) -> SessionEnded | Response:
        refused = self.refusal(launch)
        if refused is not None:
            return refused
        preloaded = self.preloaded
        assert preloaded is not None  # refusal() answers 503 until the runner has preloaded
        if self._lock.locked():
            # A retry of the session this runner is running is a duplicate, not an overload.
            SESSIONS.labels(status="duplicate", reason="running_here").inc()
            return SessionEnded(
                session_id=launch.session_id,
                status="duplicate",
                reason="running here",
                runner=self.settings.runner_id,
            )
        async with self._lock:
            self.current = launch.session_id
            ran = False
            try:
                runner = SessionRunner(
                    self.settings,
                    self.store,
                    self.relay,
                    preloaded,
                    self.bot_settings,
                    admin_queue=self.admin_queue,
                    pubsub_redis=self.blocking_redis,
                    ready_at=self.ready_at,
                    reports=self.reports,
                )
                ended = await runner.run(launch)
                ran = ended.status != "duplicate"
                return ended
            finally:
                # Free again only once the next session's parts are made (off its start),
                # and what a session that ran freed is handed back (a duplicate ran nothing).
                await preloaded.vad.refill()
                if ran:
                    release_freed_memory()
                self.current = None

    def ended_event(self, ended: SessionEnded) -> Response:
        headers, body = cloudevents_codec.encode(
            SESSION_ENDED_EVENT,
            runner_source(self.settings.runner_id),
            ended.model_dump(mode="json"),
        )
        return Response(body, status_code=200, headers=headers)


async def launch_event(request: Request) -> Response:
    service: RunnerService = request.app.state.service
    try:
        event, data, _ = await read_event(request, LAUNCH_EVENT)
        launch = event_payload(LaunchPayload, data, what="a launch")
    except ApiError as exc:
        return exc.response()
    # The event's own trace context (CloudEvents distributed tracing), else the request's.
    carried = {k: str(event[k]) for k in tracing.TRACE_ATTRIBUTES if event.get(k)}
    result = await service.run_launch(launch, carried or dict(request.headers))
    return service.ended_event(result) if isinstance(result, SessionEnded) else result


async def start_json(request: Request) -> Response:
    """The seed's `POST /start {room_url, ...}`: a launch without the broker (or a record)."""
    service: RunnerService = request.app.state.service
    try:
        data: Any = await request.json()
        if not isinstance(data, dict):
            return _error(400, "invalid start request: send a JSON object")
        data.setdefault("session_id", uuid.uuid4().hex)
        data.setdefault("tenant", "default")
        data.setdefault("transport", "daily" if data.get("room_url") else "webrtc")
        launch = LaunchPayload.model_validate(data)
    except (ValueError, ValidationError) as exc:
        return _error(400, f"invalid start request: {exc}")
    # Refuse before writing a record, or a refused start would leave a `queued` one behind.
    refused = service.refusal(launch)
    if refused is not None:
        return refused
    if await service.store.get(launch.session_id) is None:
        now = time.time()
        await service.store.create(
            SessionRecord(
                session_id=launch.session_id,
                tenant=launch.tenant,
                status=SessionStatus.QUEUED,
                transport=TransportKind(launch.transport),
                room_url=launch.room_url,
                created_at=now,
                updated_at=now,
            )
        )
    result = await service.run_launch(launch, dict(request.headers))
    if isinstance(result, SessionEnded):
        return JSONResponse(result.model_dump(mode="json"))
    return result


async def readyz(request: Request) -> Response:
    service: RunnerService = request.app.state.service
    body = {
        "ready": service.ready,
        "preloaded": service.preloaded is not None,
        "session": service.current,
        "draining": service.draining,
    }
    return JSONResponse(body, status_code=200 if service.ready else 503)


def create_app(service: RunnerService, *, metrics_token: str | None = None) -> Starlette:
    app = runner_app(
        launch_event=launch_event,
        start_json=start_json,
        readyz=readyz,
        metrics=metrics_endpoint(metrics_token),
        # Launches are held for whole sessions: the session metrics time them.
        middleware=[Middleware(ObservedApp, service="runner", untimed=("/", "/start"))],
    )
    app.state.service = service
    RUNNER_BUSY.set_function(lambda: float(service.current is not None))
    RUNNER_PRELOADED.set_function(lambda: float(service.preloaded is not None))
    RUNNER_DRAINING.set_function(lambda: float(service.draining))
    return app


def log_ready(service: RunnerService) -> None:
    logger.info("runner {} ready", service.settings.runner_id)
