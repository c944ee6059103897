"""A runner pod: up to K calls at once, each in a process of its own, forked from one parent.

    python -m runner            (RUNNER_SLOTS=K, default 1)

The pod is what Knative runs (`containerConcurrency: K`). It serves the runner's HTTP API:
a launch CloudEvent (or the seed's `POST /start`) is held open for its whole call, as a
single runner held it, and handed to a free slot: a runner process forked from the pod's
zygote (runner/zygote.py), which loaded the bot once, so a slot costs the pages it writes,
not a whole process. Each slot runs its calls one at a time on a Unix socket only the pod
reaches (runner/standby.py).

Why a process per call, not K calls in one: a call that crashes, leaks or is killed (the
kernel's OOM killer picks the biggest process) takes only itself down. When a slot's
process dies mid-call the pod records why in the session ("runner process died: signal 9
(SIGKILL)"), answers the held launch with that failure, and forks a fresh process for the
slot; the pod's other calls go on.

Readiness means "preloaded and not draining": a pod stays ready while its slots are full.
Kubernetes' ReplicaSet deletes not-ready pods before it weighs deletion cost, so a full pod
that turned not-ready would be the first one a scale-down stops; ready, it is ranked by the
deletion cost it keeps at its live calls (runner/deletion_cost.py) and idle pods go first.
Keeping launches off a full pod is the job of Knative's activator, which the Service keeps
in the path (`target-burst-capacity: "-1"`) and which sends a pod at most
`containerConcurrency` (K) launches at once; a launch that reaches a full pod all the same is
refused with a retryable 503, never given a slot that holds a call. SIGTERM drains: the pod
turns not-ready, refuses new launches, passes SIGTERM to every slot (an idle one exits, a
busy one finishes its call) and exits once the last call has ended and the session events
the broker did not take meanwhile have been sent from the pod's event spool (for at most
VOICEFLEET_EVENT_SPOOL_FLUSH_S; voicefleet/event_spool.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from loguru import logger
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runner.child_process import READY_LINE
from runner.deletion_cost import set_live_calls
from runner.forks import Zygote, ZygoteError
from runner.http_api import runner_app
from runner.pod_metrics import merge_expositions
from runner.settings import RunnerSettings
from runner.slot import Slot, describe_exit
from voicefleet import cloudevents_codec, observability
from voicefleet.cloudevent_intake import event_payload, read_event
from voicefleet.contracts import (
    LAUNCH_EVENT,
    SESSION_ENDED_EVENT,
    LaunchPayload,
    SessionEnded,
    SessionStatus,
    runner_source,
)
from voicefleet.event_sink import EventSink
from voicefleet.event_spool import SpoolSender
from voicefleet.http_client import async_client
from voicefleet.http_errors import ApiError, error_response
from voicefleet.observability.http import metrics_endpoint
from voicefleet.redis_conn import connect
from voicefleet.session_store import SessionStore

_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}
# A slot whose process died before it was ready is forked again after this pause, so a
# process that cannot start does not spin the zygote.
_RESTART_PAUSE_S = 1.0


class Refused(Exception):
    def __init__(self, status: int, message: str, retry_after: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        headers = {"Retry-After": "1"} if self.retry_after else {}
        return error_response(self.status, str(self), headers=headers)


class RunnerPod:
    def __init__(self, settings: RunnerSettings, env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._env = dict(os.environ if env is None else env)
        self._dir = tempfile.mkdtemp(prefix="voicefleet-pod-")
        # The slots spool what the broker did not take (runner/report.py) into one folder,
        # which the pod sends on: at start (what its previous container left), while it
        # runs, and once more when it drains.
        self._sink_http: httpx.AsyncClient | None = None
        self.spool_sender: SpoolSender | None = None
        if settings.k_sink:
            spool = settings.event_spool()
            self._env["VOICEFLEET_EVENT_SPOOL_DIR"] = str(spool.folder)
            self._sink_http = async_client(timeout=10.0)
            sink = EventSink(
                self._sink_http,
                settings.k_sink,
                token_file=Path(settings.sink_token_file),
                attempts=1,  # the sender's own backoff paces the retries
            )
            self.spool_sender = SpoolSender(spool, sink)
        self.redis = connect(settings.redis_url)
        self.store = SessionStore(self.redis)
        self._forks = itertools.count(1)
        self.slots: list[Slot] = [self._new_slot(i) for i in range(settings.slots)]
        self.zygote: Zygote | None = None
        self.draining = False
        # Set once the first slot has loaded, and kept: a slot forked again after a death does
        # not make the pod unready (a launch meanwhile waits for it, see `_acquire`).
        self.preloaded = False
        self.started_at = time.monotonic()
        self._changed = asyncio.Condition()
        self._keepers: list[asyncio.Task[None]] = []
        self._clients = [
            httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=slot.socket_path),
                base_url="http://slot",
                timeout=httpx.Timeout(None, connect=5.0),
                # A pooled connection to a slot that was replaced would be a dead one.
                limits=httpx.Limits(max_keepalive_connections=0),
            )
            for slot in self.slots
        ]
        self._live_calls = 0

    def _new_slot(self, index: int) -> Slot:
        """Slot `index`'s next process; each is named anew (RUNNER_ID-1, -2, … in order of
        forking), so that a session's record names the process that ran it."""
        name = f"{self.settings.runner_id}-{next(self._forks)}"
        return Slot(name, os.path.join(self._dir, f"slot-{index + 1}.sock"), self._env)

    # Life -----------------------------------------------------------------------------------

    async def start(self, zygote: Zygote | None = None) -> None:
        """Start the zygote (or finish starting `zygote`, spawned early) and fork the slots;
        returns once every slot is ready (the pod is ready for a launch from its first)."""
        if self.spool_sender is not None:
            self.spool_sender.start()
        if self.settings.zygote:
            zygote = zygote or Zygote({})
            try:
                await zygote.start()
                self.zygote = zygote
            except ZygoteError as exc:  # still a working pod, only a slower one
                logger.warning("no runner zygote ({}): starting each slot as a process", exc)
        for slot in self.slots:
            await slot.start(self.zygote)
        self._keepers = [asyncio.create_task(self._keep(i)) for i in range(len(self.slots))]
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.draining or all(s.ready.is_set() for s in self.slots)
            )

    async def _keep(self, index: int) -> None:
        """Wake waiting launches when the slot is ready; fork it again when its process dies."""
        while True:
            slot = self.slots[index]
            ready = asyncio.create_task(slot.ready.wait())
            exited = asyncio.create_task(slot.exited.wait())
            await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
            if slot.ready.is_set():
                self.preloaded = True
            await self._notify()
            await exited
            ready.cancel()
            await self._notify()
            if self.draining:
                return
            logger.warning(
                "{} died ({}): forking a fresh one", slot.name, describe_exit(slot.exit_code)
            )
            if not slot.ready.is_set():
                await asyncio.sleep(_RESTART_PAUSE_S)
            fresh = self._new_slot(index)
            self.slots[index] = fresh
            await fresh.start(self.zygote)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def drain(self) -> None:
        """SIGTERM: no new launch; every slot finishes its call (an idle one exits now)."""
        if self.draining:
            return
        self.draining = True
        logger.info("draining: {} call(s) in progress", self._live_calls)
        for slot in self.slots:
            slot.signal(signal.SIGTERM)

    async def close(self, grace_s: float = 10.0) -> None:
        """After a drain (or instead of one): every slot stopped, then the zygote."""
        self.drain()
        await self._notify()
        await asyncio.gather(*(slot.stop(grace_s) for slot in self.slots))
        for keeper in self._keepers:
            keeper.cancel()
        await asyncio.gather(*self._keepers, return_exceptions=True)
        if self.zygote is not None:
            await self.zygote.stop()
        if self.spool_sender is not None:  # every call has ended: its report is sent or here
            await self.spool_sender.stop(self.settings.event_spool_flush_s)
        if self._sink_http is not None:
            await self._sink_http.aclose()
        for client in self._clients:
            await client.aclose()
        await self.redis.aclose()
        shutil.rmtree(self._dir, ignore_errors=True)

    # State ----------------------------------------------------------------------------------

    @property
    def sessions(self) -> list[str]:
        return [s.session for s in self.slots if s.session is not None]

    @property
    def free_slots(self) -> int:
        return sum(1 for s in self.slots if s.free)

    @property
    def ready(self) -> bool:
        """Preloaded and not draining; full or not (the activator counts the slots)."""
        return self.preloaded and not self.draining

    def _calls_changed(self) -> None:
        live = len(self.sessions)
        if live == self._live_calls:
            return
        self._live_calls = live
        # A scale-down deletes the pods holding the fewest calls first (runner/deletion_cost.py).
        set_live_calls(live)

    # Launches -------------------------------------------------------------------------------

    async def _acquire(self, session_id: str) -> tuple[int, bool]:
        """The slot for `session_id`, and whether this launch holds it (False: a retry of a
        call running here, which that slot answers as a duplicate)."""
        deadline = time.monotonic() + self.settings.queue_timeout_s
        async with self._changed:
            while True:
                if self.draining:
                    raise Refused(503, "runner is shutting down")
                for i, slot in enumerate(self.slots):
                    if slot.session == session_id and slot.alive:
                        return i, False
                for i, slot in enumerate(self.slots):
                    if slot.free:
                        slot.session = session_id
                        self._calls_changed()
                        return i, True
                if all(slot.session is not None for slot in self.slots):
                    raise Refused(503, "runner is busy: every slot holds a call", retry_after=True)
                # A slot is starting (the pod's start, or a fresh fork after a death): wait.
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Refused(503, "runner is still loading", retry_after=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def _release(self, index: int, session_id: str) -> None:
        async with self._changed:
            slot = self.slots[index]
            if slot.session == session_id:
                slot.session = None
            self._calls_changed()
            self._changed.notify_all()

    async def run(
        self, launch: LaunchPayload, path: str, headers: Mapping[str, str], body: bytes
    ) -> httpx.Response | SessionEnded:
        """Hand the launch to a slot and hold it until the slot answers (its call ended), or
        until the slot's process dies: then the call's record says why."""
        index, holds = await self._acquire(launch.session_id)
        slot = self.slots[index]
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
            try:
                return await self._clients[index].post(path, headers=sent, content=body)
            except httpx.TransportError as exc:
                if not holds:
                    raise Refused(
                        503, "runner is busy with this session", retry_after=True
                    ) from exc
                return await self._died(slot, launch, exc)
        finally:
            if holds:
                await self._release(index, launch.session_id)

    async def _died(self, slot: Slot, launch: LaunchPayload, exc: Exception) -> SessionEnded:
        try:
            await asyncio.wait_for(slot.exited.wait(), 5.0)
            reason = f"runner process died: {describe_exit(slot.exit_code)}"
        except TimeoutError:
            # Alive but no longer answering: the call's state is unknown, so end it for sure.
            reason = f"runner process stopped answering ({type(exc).__name__})"
            slot.signal(signal.SIGKILL)
        logger.error("session {} on {}: {}", launch.session_id, slot.name, reason)
        status = SessionStatus.FAILED
        if await self.store.get(launch.session_id) is not None:
            if not await self.store.finish(
                launch.session_id, status, room_url=launch.room_url, reason=reason
            ):
                record = await self.store.get(launch.session_id)  # it ended before the death
                if record is not None and record.status.is_final:
                    status, reason = record.status, record.reason or reason
        return SessionEnded(
            session_id=launch.session_id,
            status="ended" if status is SessionStatus.ENDED else "failed",
            reason=reason,
            runner=slot.name,
        )

    async def slot_metrics(self, token: str | None) -> bytes:
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        async def scrape(index: int) -> str | None:
            if not self.slots[index].alive:
                return None
            try:
                answer = await self._clients[index].get("/metrics", headers=headers, timeout=5)
            except httpx.HTTPError:
                return None
            return answer.text if answer.status_code == 200 else None

        texts = await asyncio.gather(*(scrape(i) for i in range(len(self.slots))))
        return merge_expositions({str(i + 1): t for i, t in enumerate(texts) if t is not None})


# HTTP -------------------------------------------------------------------------------------------


def _pod(request: Request) -> RunnerPod:
    pod: RunnerPod = request.app.state.pod
    return pod


def _passed_on(answer: httpx.Response) -> Response:
    headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
    return Response(answer.content, status_code=answer.status_code, headers=headers)


async def launch_event(request: Request) -> Response:
    pod = _pod(request)
    try:
        _, data, body = await read_event(request, LAUNCH_EVENT)
        launch = event_payload(LaunchPayload, data, what="a launch")
    except ApiError as exc:
        return exc.response()
    try:
        result = await pod.run(launch, "/", request.headers, body)
    except Refused as refused:
        return refused.response()
    if isinstance(result, httpx.Response):
        return _passed_on(result)
    headers, encoded = cloudevents_codec.encode(
        SESSION_ENDED_EVENT, runner_source(result.runner), result.model_dump(mode="json")
    )
    return Response(encoded, status_code=200, headers=headers)


async def start_json(request: Request) -> Response:
    """The seed's `POST /start`: the slot makes the record; the pod names the session, so that
    a slot dying mid-call still ends the right one."""
    pod = _pod(request)
    try:
        data: Any = await request.json()
        if not isinstance(data, dict):
            return error_response(400, "invalid start request: send a JSON object")
        data.setdefault("session_id", uuid.uuid4().hex)
        launch = LaunchPayload.model_validate(
            {
                "tenant": "default",
                "transport": "daily" if data.get("room_url") else "webrtc",
                **data,
            }
        )
    except (ValueError, ValidationError) as exc:
        return error_response(400, f"invalid start request: {exc}")
    headers = {"content-type": "application/json"}
    try:
        result = await pod.run(launch, "/start", headers, json.dumps(data).encode())
    except Refused as refused:
        return refused.response()
    if isinstance(result, httpx.Response):
        return _passed_on(result)
    return JSONResponse(result.model_dump(mode="json"))


async def readyz(request: Request) -> Response:
    pod = _pod(request)
    body = {
        "ready": pod.ready,
        "preloaded": pod.preloaded,
        "slots": len(pod.slots),
        "free": pod.free_slots,
        "sessions": pod.sessions,
        "draining": pod.draining,
    }
    return JSONResponse(body, status_code=200 if pod.ready else 503)


def create_pod_app(pod: RunnerPod, *, metrics_token: str | None = None) -> Starlette:
    async def slot_metrics(request: Request) -> bytes:
        return await _pod(request).slot_metrics(metrics_token)

    app = runner_app(
        launch_event=launch_event,
        start_json=start_json,
        readyz=readyz,
        metrics=metrics_endpoint(metrics_token, slot_metrics),
    )
    app.state.pod = pod
    return app


class PodServer(uvicorn.Server):
    """SIGTERM: the pod drains (not ready, no new launch, every slot told), uvicorn waits for
    the held launches, and the slots and the zygote are stopped before the process ends."""

    def __init__(self, config: uvicorn.Config, pod: RunnerPod) -> None:
        super().__init__(config)
        self.pod = pod

    def handle_exit(self, sig: int, frame: object) -> None:
        self.pod.drain()
        super().handle_exit(sig, frame)  # type: ignore[arg-type]

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        await super().shutdown(sockets)
        await self.pod.close()


async def serve_pod(settings: RunnerSettings, zygote: Zygote | None = None) -> int:
    reporting = observability.setup("runner", traces=False)  # the slots trace their calls
    pod = RunnerPod(settings)
    config = uvicorn.Config(
        create_pod_app(pod, metrics_token=reporting.metrics_token),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
        lifespan="off",
    )
    server = PodServer(config, pod)
    # /healthz answers while the zygote loads; /readyz once a slot has loaded.
    sock = config.bind_socket()
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    starting = asyncio.create_task(pod.start(zygote))
    await asyncio.wait({serving, starting}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done() and starting.exception() is None and not pod.draining:
        port = sock.getsockname()[1]
        print(f"{READY_LINE} port={port}", flush=True)
        logger.info(
            "runner pod {} ready on port {} ({} slot(s), {:.2f}s after start)",
            settings.runner_id,
            port,
            len(pod.slots),
            time.monotonic() - pod.started_at,
        )
    await serving
    if not starting.done():
        starting.cancel()
    return 0
