"""The dev stack's stand-in for the runner Knative Service and its autoscaler.

It runs the image's pods (`python -m runner`, runner/pod.py: a zygote and K slot processes
forked from it) and follows the Service's manifest: `min-scale` warm pods, at most
`containerConcurrency` (K) launches in a pod at once, a launch sent only to a pod with a free
slot (what Knative's activator does with `target-burst-capacity: "-1"`), a new pod when the
launches waiting outnumber the slots of the pods starting (the cold path; the request waits as
it would in the activator), up to `max-scale`, and idle extra pods stopped after the
scale-down delay.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import httpx
from loguru import logger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.manifests import RunnerScaling
from devstack.pod_process import PodProcess
from devstack.ports import free_port
from voicefleet.http_client import async_client
from voicefleet.http_errors import error_response

# Where Prometheus finds the runners' /metrics (its http_sd_config format), as it would find
# pods on a cluster; the path is outside what the runner Service serves, so it is never proxied.
TARGETS_PATH = "/_pool/targets"
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which a container's cpuset narrows)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fit_to_host(scaling: RunnerScaling, cores: int) -> RunnerScaling:
    """The scaling one host can honour when every runner pod lives on it.

    A Kubernetes node schedules only as many pods as its cores cover their CPU requests;
    the manifest's `max-scale` counts a cluster's nodes. Past that, calls on one host slow each
    other down (README, Load: on 2 cores four calls take 2.5-2.9x as long to answer as one), so the
    dev pool stops where a node would. Warm runners asked for are kept even past it.
    """
    if scaling.cpu_request is None:
        return scaling
    fits = max(1, int(cores / scaling.cpu_request))
    if scaling.max_scale <= fits:
        return scaling
    return scaling.model_copy(update={"max_scale": max(fits, scaling.min_scale)})


class RunnerPool:
    def __init__(
        self,
        scaling: RunnerScaling,
        env: dict[str, str],
        *,
        stop_grace_s: float = 30.0,
        zygote: bool = True,
    ) -> None:
        if scaling.container_concurrency < 1:
            raise ValueError("the runner pool needs containerConcurrency of at least 1")
        self.scaling = scaling
        self.slots = scaling.container_concurrency
        self._env = env
        self._stop_grace_s = stop_grace_s
        self._zygote = zygote  # each pod forks its slots from its own zygote, unless off
        self._pods: list[PodProcess] = []
        self._changed = asyncio.Condition()
        self._waiting = 0
        self._turn = 0
        self._names = itertools.count(1)
        self._client = async_client(
            timeout=httpx.Timeout(scaling.timeout_s, connect=5.0), max_connections=None
        )
        self._reaper: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._closing = False
        self.cold_starts = 0
        self.app = Starlette(
            routes=[
                Route(TARGETS_PATH, self._targets, methods=["GET"]),
                Route("/{path:path}", self._proxy, methods=["GET", "POST", "PATCH", "DELETE"]),
            ]
        )

    @property
    def pods(self) -> list[PodProcess]:
        return list(self._pods)

    async def start(self) -> None:
        """Start the warm pods and wait until every one is ready."""
        warm = [await self._spawn() for _ in range(self.scaling.min_scale)]
        await asyncio.gather(*(p.ready.wait() for p in warm))
        self._reaper = asyncio.create_task(self._reap_idle())

    async def _spawn(self) -> PodProcess:
        pod = PodProcess(
            f"runner-{next(self._names)}",
            free_port(),
            self._env,
            slots=self.slots,
            zygote=self._zygote,
        )
        self._pods.append(pod)
        await pod.start()
        watcher = asyncio.create_task(self._notify_when(pod))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        logger.info("started pod {} (pool size {})", pod.name, len(self._pods))
        return pod

    async def _notify_when(self, pod: PodProcess) -> None:
        """Wake waiting launches when a pod becomes ready, and forget it when it exits."""
        ready = asyncio.create_task(pod.ready.wait())
        exited = asyncio.create_task(pod.exited.wait())
        await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        async with self._changed:
            self._changed.notify_all()
        await exited
        ready.cancel()
        async with self._changed:
            if pod in self._pods:
                self._pods.remove(pod)
            self._changed.notify_all()
        if not self._closing and len(self._pods) < self.scaling.min_scale:
            await self._spawn()

    def _pick(self) -> PodProcess | None:
        """The pod Knative's activator would send a launch to: with `containerConcurrency` up
        to 3 the first pod with a free slot, above that round robin over those with one."""
        open_pods = [p for p in self._pods if p.ready.is_set() and p.alive and p.free_slots > 0]
        if not open_pods:
            return None
        if self.slots <= 3:
            return open_pods[0]
        self._turn += 1
        return open_pods[self._turn % len(open_pods)]

    async def acquire(self) -> PodProcess:
        """A slot in a ready pod, or a new pod once the launches waiting outnumber the slots
        of the pods starting."""
        async with self._changed:
            self._waiting += 1
            try:
                while True:
                    if self._closing:
                        raise RuntimeError("pool is shutting down")
                    pod = self._pick()
                    if pod is not None:
                        pod.inflight += 1
                        return pod
                    starting = sum(p.slots for p in self._pods if not p.ready.is_set())
                    if starting < self._waiting and len(self._pods) < self.scaling.max_scale:
                        self.cold_starts += 1
                        logger.info("no free slot: cold start of a pod")
                        await self._spawn()
                    await self._changed.wait()
            finally:
                self._waiting -= 1

    async def release(self, pod: PodProcess) -> None:
        async with self._changed:
            pod.inflight -= 1
            if pod.inflight == 0:
                pod.idle_since = time.monotonic()
            self._changed.notify_all()

    async def _targets(self, request: Request) -> Response:
        targets = [p.url.removeprefix("http://") for p in self._pods if p.alive]
        labels = {"job": "voicefleet-runner", "__metrics_path__": "/metrics"}
        return JSONResponse([{"targets": targets, "labels": labels}])

    async def _proxy(self, request: Request) -> Response:
        try:
            pod = await self.acquire()
        except RuntimeError as exc:
            return error_response(503, str(exc))
        try:
            headers = {k: v for k, v in request.headers.items() if k not in _HOP_HEADERS}
            upstream = await self._client.request(
                request.method,
                f"{pod.url}{request.url.path}",
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        except httpx.HTTPError as exc:
            logger.warning("pod {} failed the request: {}", pod.name, type(exc).__name__)
            return error_response(502, "runner unavailable")
        finally:
            await self.release(pod)
        out = {k: v for k, v in upstream.headers.items() if k not in _HOP_HEADERS}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    async def _reap_idle(self) -> None:
        """Stop idle pods above min-scale once they have idled past the scale-down delay."""
        period = max(min(self.scaling.scale_down_delay_s / 4, 5.0), 0.05)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            idle = [
                p
                for p in self._pods
                if p.ready.is_set()
                and p.inflight == 0
                and now - p.idle_since >= self.scaling.scale_down_delay_s
            ]
            excess = len(self._pods) - self.scaling.min_scale
            for pod in idle[: max(excess, 0)]:
                logger.info("scaling down pod {} (idle {:.0f}s)", pod.name, now - pod.idle_since)
                self._pods.remove(pod)
                await pod.stop(self._stop_grace_s)

    async def close(self) -> None:
        """Drain: pods finish their calls (up to the grace period), then exit."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
        async with self._changed:
            self._changed.notify_all()
        await asyncio.gather(*(p.stop(self._stop_grace_s) for p in self._pods))
        self._pods.clear()
        await self._client.aclose()
