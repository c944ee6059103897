"""The dev stack's stand-in for the runner Knative Service and its autoscaler.

It follows the Service's manifest: `min-scale` warm runners, `containerConcurrency: 1`
(one launch per runner), a new runner when none is free (the cold path; the request waits
like it would in Knative's activator), up to `max-scale`, and idle extras stopped after the
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
from devstack.ports import free_port
from devstack.runner_process import RunnerProcess
from runner.forks import Zygote, ZygoteError
from voicefleet.http_client import async_client

# Where Prometheus finds the runners' /metrics (its http_sd_config format), as it would find
# pods on a cluster; the path is outside what the runner Service serves, so it is never proxied.
TARGETS_PATH = "/_pool/targets"
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which a container's cpuset narrows)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fit_to_host(scaling: RunnerScaling, cores: int) -> RunnerScaling:
    """The scaling one host can honour when every runner lives on it.

    A Kubernetes node schedules only as many runners as its cores cover their CPU requests;
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
        if scaling.container_concurrency != 1:
            raise ValueError("the runner pool supports containerConcurrency 1 only")
        self.scaling = scaling
        self._env = env
        self._stop_grace_s = stop_grace_s
        self._runners: list[RunnerProcess] = []
        self._changed = asyncio.Condition()
        self._waiting = 0
        self._names = itertools.count(1)
        self._client = async_client(
            timeout=httpx.Timeout(scaling.timeout_s, connect=5.0), max_connections=None
        )
        # Runners are forked from one preloaded parent (runner/zygote.py) unless turned off.
        self.zygote: Zygote | None = Zygote(env) if zygote else None
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
    def runners(self) -> list[RunnerProcess]:
        return list(self._runners)

    async def start(self) -> None:
        """Start the warm pool and wait until every warm runner is ready."""
        if self.zygote is not None:
            try:
                await self.zygote.start()
            except ZygoteError as exc:  # still a working pool, only a slower one
                logger.warning("no runner zygote ({}): starting each runner as a process", exc)
                self.zygote = None
        warm = [await self._spawn() for _ in range(self.scaling.min_scale)]
        await asyncio.gather(*(r.ready.wait() for r in warm))
        self._reaper = asyncio.create_task(self._reap_idle())

    async def _spawn(self) -> RunnerProcess:
        runner = RunnerProcess(
            f"runner-{next(self._names)}", free_port(), self._env, zygote=self.zygote
        )
        self._runners.append(runner)
        await runner.start()
        watcher = asyncio.create_task(self._notify_when(runner))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        logger.info("started {} (pool size {})", runner.name, len(self._runners))
        return runner

    async def _notify_when(self, runner: RunnerProcess) -> None:
        """Wake waiting launches when a runner becomes ready, and forget it when it exits."""
        ready = asyncio.create_task(runner.ready.wait())
        exited = asyncio.create_task(runner.exited.wait())
        await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        async with self._changed:
            self._changed.notify_all()
        await exited
        ready.cancel()
        async with self._changed:
            if runner in self._runners:
                self._runners.remove(runner)
            self._changed.notify_all()
        if not self._closing and len(self._runners) < self.scaling.min_scale:
            await self._spawn()

    async def acquire(self) -> RunnerProcess:
        async with self._changed:
            self._waiting += 1
            try:
                while True:
                    if self._closing:
                        raise RuntimeError("pool is shutting down")
                    for runner in self._runners:
                        if runner.ready.is_set() and runner.alive and not runner.busy:
                            runner.busy = True
                            return runner
                    starting = sum(1 for r in self._runners if not r.ready.is_set())
                    if starting < self._waiting and len(self._runners) < self.scaling.max_scale:
                        self.cold_starts += 1
                        logger.info("no free runner: cold start")
                        await self._spawn()
                    await self._changed.wait()
            finally:
                self._waiting -= 1

    async def release(self, runner: RunnerProcess) -> None:
        async with self._changed:
            runner.busy = False
            runner.idle_since = time.monotonic()
            self._changed.notify_all()

    async def _targets(self, request: Request) -> Response:
        targets = [r.url.removeprefix("http://") for r in self._runners if r.alive]
        labels = {"job": "voicefleet-runner", "__metrics_path__": "/metrics"}
        return JSONResponse([{"targets": targets, "labels": labels}])

    async def _proxy(self, request: Request) -> Response:
        try:
            runner = await self.acquire()
        except RuntimeError as exc:
            return JSONResponse({"error": {"message": str(exc)}}, status_code=503)
        try:
            headers = {k: v for k, v in request.headers.items() if k not in _HOP_HEADERS}
            upstream = await self._client.request(
                request.method,
                f"{runner.url}{request.url.path}",
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        except httpx.HTTPError as exc:
            logger.warning("runner {} failed the request: {}", runner.name, type(exc).__name__)
            return JSONResponse({"error": {"message": "runner unavailable"}}, status_code=502)
        finally:
            await self.release(runner)
        out = {k: v for k, v in upstream.headers.items() if k not in _HOP_HEADERS}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    async def _reap_idle(self) -> None:
        """Stop idle runners above min-scale once they have idled past the scale-down delay."""
        period = max(min(self.scaling.scale_down_delay_s / 4, 5.0), 0.05)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            idle = [
                r
                for r in self._runners
                if r.ready.is_set()
                and not r.busy
                and now - r.idle_since >= self.scaling.scale_down_delay_s
            ]
            excess = len(self._runners) - self.scaling.min_scale
            for runner in idle[: max(excess, 0)]:
                logger.info("scaling down {} (idle {:.0f}s)", runner.name, now - runner.idle_since)
                self._runners.remove(runner)
                await runner.stop(self._stop_grace_s)

    async def close(self) -> None:
        """Drain: runners finish their sessions (up to the grace period), then exit."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
        async with self._changed:
            self._changed.notify_all()
        await asyncio.gather(*(r.stop(self._stop_grace_s) for r in self._runners))
        self._runners.clear()
        if self.zygote is not None:
            await self.zygote.stop()
        await self._client.aclose()
