"""One runner pod of the dev pool: `python -m runner`, as the image runs it, on its own port.

The pod is the shipped one (runner/pod.py): its own zygote, `RUNNER_SLOTS` slot processes
forked from it, the same readiness and drain. The pool watches it through its output (its
ready line, its logs, end of file when it exits) and counts the launches it holds: it routes
by that count, as Knative's activator does, since a full pod stays ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

from loguru import logger

from runner.child_output import relay
from runner.pod import READY_LINE
from voicefleet.parent_death import ends_with_us


class PodProcess:
    """A runner pod on a loopback port, holding up to `slots` calls."""

    def __init__(
        self, name: str, port: int, env: dict[str, str], *, slots: int, zygote: bool = True
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.slots = slots
        self.inflight = 0  # launches the pool has handed it and not yet had answered
        self.idle_since = time.monotonic()
        self.started_at = time.monotonic()
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self.pid: int | None = None
        self._env = env
        self._zygote = zygote
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def free_slots(self) -> int:
        return self.slots - self.inflight

    async def start(self) -> None:
        env = {**os.environ, **self._env, "PORT": str(self.port), "RUNNER_ID": self.name}
        env["RUNNER_HOST"] = "127.0.0.1"
        env["RUNNER_AUTO_START"] = "0"
        env["RUNNER_SLOTS"] = str(self.slots)
        env["RUNNER_ZYGOTE"] = "1" if self._zygote else "0"
        env.pop("RUNNER_SLOT_SOCKET", None)
        self.started_at = time.monotonic()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runner",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal reaches the stack, which drains us
            preexec_fn=ends_with_us(),  # and the kernel ends us should the stack die first
        )
        assert self._proc.stdout is not None
        self.pid = self._proc.pid
        self._watcher = asyncio.create_task(self._watch(self._proc.stdout))

    async def _watch(self, output: asyncio.StreamReader) -> None:
        async for raw in output:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith(READY_LINE):
                self.idle_since = time.monotonic()
                logger.info(
                    "pod {} ready {:.2f}s after its start ({} slot(s))",
                    self.name,
                    self.idle_since - self.started_at,
                    self.slots,
                )
                self.ready.set()
            else:
                relay(self.name, line)
        code = await self._proc.wait() if self._proc is not None else None
        self.exited.set()
        logger.info("pod {} exited with {}", self.name, code)

    @property
    def alive(self) -> bool:
        return self.pid is not None and not self.exited.is_set()

    def _signal(self, sig: int) -> None:
        if self.pid is not None and not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    async def stop(self, grace_s: float) -> None:
        """SIGTERM (the pod drains its calls), then SIGKILL after the grace period."""
        if self.pid is None or self.exited.is_set():
            return
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.exited.wait(), grace_s)
        except TimeoutError:
            logger.warning("pod {} did not stop in {:g}s; killing it", self.name, grace_s)
            self._signal(signal.SIGKILL)
            await self.exited.wait()
        if self._watcher is not None:
            await self._watcher
