"""One runner child process of the dev pool: started, watched until ready, stopped cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from loguru import logger

READY_LINE = "VOICEFLEET_RUNNER_READY"


class RunnerProcess:
    """A `python -m runner` in standby mode on its own loopback port."""

    def __init__(self, name: str, port: int, env: dict[str, str]) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.busy = False
        self.idle_since = time.monotonic()
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self._env = env
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        env = {**os.environ, **self._env, "PORT": str(self.port), "RUNNER_ID": self.name}
        env["RUNNER_HOST"] = "127.0.0.1"
        env["RUNNER_AUTO_START"] = "0"
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runner",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal reaches the stack, which drains us
        )
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith(READY_LINE):
                self.idle_since = time.monotonic()
                self.ready.set()
            elif line:
                logger.info("[{}] {}", self.name, line)
        code = await self._proc.wait()
        self.exited.set()
        logger.info("runner {} exited with {}", self.name, code)

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self.exited.is_set()

    async def stop(self, grace_s: float) -> None:
        """SIGTERM (the runner drains its session), then SIGKILL after the grace period."""
        if self._proc is None or self.exited.is_set():
            return
        try:
            self._proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.exited.wait(), grace_s)
        except ProcessLookupError:
            pass
        except TimeoutError:
            logger.warning("runner {} did not stop in {:g}s; killing it", self.name, grace_s)
            self._proc.kill()
            await self.exited.wait()
        if self._watcher is not None:
            await self._watcher
