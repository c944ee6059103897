"""One runner child process of the dev pool: started, watched until ready, stopped cleanly.

A runner is forked by the pool's zygote (runner/zygote.py) when there is one, else started
as `python -m runner`; either way it is watched through its output: its ready line, its
logs, and end of file when it exits.
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
from runner.forks import Zygote, ZygoteError

READY_LINE = "VOICEFLEET_RUNNER_READY"


class RunnerProcess:
    """A standby runner on its own loopback port."""

    def __init__(
        self, name: str, port: int, env: dict[str, str], zygote: Zygote | None = None
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.busy = False
        self.idle_since = time.monotonic()
        self.started_at = time.monotonic()
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self.pid: int | None = None
        self.forked = False
        self._env = env
        self._zygote = zygote
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        env = {**os.environ, **self._env, "PORT": str(self.port), "RUNNER_ID": self.name}
        env["RUNNER_HOST"] = "127.0.0.1"
        env["RUNNER_AUTO_START"] = "0"
        self.started_at = time.monotonic()
        forked: tuple[int, asyncio.StreamReader] | None = None
        if self._zygote is not None and self._zygote.alive:
            try:
                forked = await self._zygote.fork(env)
            except ZygoteError as exc:
                logger.warning("{}: not forked ({}); starting a process", self.name, exc)
        if forked is not None:
            self.pid, output = forked
            self.forked = True
        else:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "runner",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,  # Ctrl-C in the terminal reaches the stack, which drains us
            )
            assert self._proc.stdout is not None
            self.pid, output = self._proc.pid, self._proc.stdout
        self._watcher = asyncio.create_task(self._watch(output))

    async def _watch(self, output: asyncio.StreamReader) -> None:
        async for raw in output:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith(READY_LINE):
                self.idle_since = time.monotonic()
                logger.info(
                    "{} ready {:.2f}s after its {}",
                    self.name,
                    self.idle_since - self.started_at,
                    "fork" if self.forked else "start",
                )
                self.ready.set()
            else:
                relay(self.name, line)
        code = await self._proc.wait() if self._proc is not None else None
        self.exited.set()
        logger.info("runner {} exited{}", self.name, f" with {code}" if code is not None else "")

    @property
    def alive(self) -> bool:
        return self.pid is not None and not self.exited.is_set()

    def _signal(self, sig: int) -> None:
        """Signal the runner; one that already exited (its output not yet at its end) is gone."""
        if self.pid is not None and not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    async def stop(self, grace_s: float) -> None:
        """SIGTERM (the runner drains its session), then SIGKILL after the grace period."""
        if self.pid is None or self.exited.is_set():
            return
        try:
            self._signal(signal.SIGTERM)
            await asyncio.wait_for(self.exited.wait(), grace_s)
        except ProcessLookupError:
            pass
        except TimeoutError:
            logger.warning("runner {} did not stop in {:g}s; killing it", self.name, grace_s)
            try:
                self._signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            await self.exited.wait()
        if self._watcher is not None:
            await self._watcher
