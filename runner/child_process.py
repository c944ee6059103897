"""A runner process started by another and watched through its output: a pod's slot
(runner/slot.py), and the dev pool's pod (devstack/pod_process.py), which stands in for the
runner pod Knative starts and so must be started, watched and stopped the same way.

Both are `python -m runner` in a session of their own, ended by the kernel should their
parent die first; both print READY_LINE when they serve, and are stopped with SIGTERM (they
drain), then SIGKILL after a grace period. What each does when it is ready or has exited
differs, and stays with it.
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
from voicefleet.parent_death import ends_with_us

# What a runner prints, first on its line, once it serves (a pod adds its port).
READY_LINE = "VOICEFLEET_RUNNER_READY"


class RunnerProcess:
    """A runner child called `name` (`label` in the logs), once started: its pid, `ready`
    when it printed READY_LINE, `exited` when its output ended and its status is known."""

    def __init__(self, name: str, env: dict[str, str], *, label: str) -> None:
        self.name = name
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self.pid: int | None = None
        self.started_at = time.monotonic()
        self._env = env
        self._label = label
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self.pid is not None and not self.exited.is_set()

    async def _spawn(self, env: dict[str, str]) -> asyncio.StreamReader:
        """Start `python -m runner` with `env`; its output, which `_relay` reads."""
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runner",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C reaches the parent, which drains us
            preexec_fn=ends_with_us(),  # and the kernel ends us should the parent die first
        )
        assert self._proc.stdout is not None
        self.pid = self._proc.pid
        return self._proc.stdout

    async def _relay(self, output: asyncio.StreamReader) -> None:
        """Relay the child's lines until it closes its output; set `ready` at its ready line."""
        async for raw in output:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith(READY_LINE):
                self._on_ready()
                self.ready.set()
            else:
                relay(self.name, line)

    def _on_ready(self) -> None:
        """What the parent notes when the child is ready, before `ready` is set."""

    def signal(self, sig: int) -> None:
        """Signal the process; one that already exited is gone."""
        if self.pid is not None and not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    async def stop(self, grace_s: float) -> None:
        """SIGTERM (the runner drains what it holds), then SIGKILL after the grace period."""
        if self.pid is None:
            return
        self.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.exited.wait(), grace_s)
        except TimeoutError:
            logger.warning("{} did not stop in {:g}s; killing it", self._label, grace_s)
            self.signal(signal.SIGKILL)
            await self.exited.wait()
        if self._watcher is not None:
            await self._watcher
