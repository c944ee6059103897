"""One runner pod of the dev pool: `python -m runner`, as the image runs it, on its own port.

The pod is the shipped one (runner/pod.py): its own zygote, `RUNNER_SLOTS` slot processes
forked from it, the same readiness and drain. The pool watches it through its output (its
ready line, its logs, end of file when it exits) and counts the launches it holds: it routes
by that count, as Knative's activator does, since a full pod stays ready.
"""

from __future__ import annotations

import asyncio
import os
import time

from loguru import logger

from runner.child_process import RunnerProcess


class PodProcess(RunnerProcess):
    """A runner pod on a loopback port, holding up to `slots` calls."""

    def __init__(
        self, name: str, port: int, env: dict[str, str], *, slots: int, zygote: bool = True
    ) -> None:
        super().__init__(name, env, label=f"pod {name}")
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.slots = slots
        self.inflight = 0  # launches the pool has handed it and not yet had answered
        self.idle_since = time.monotonic()
        self._zygote = zygote

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
        output = await self._spawn(env)
        self._watcher = asyncio.create_task(self._watch(output))

    def _on_ready(self) -> None:
        self.idle_since = time.monotonic()
        logger.info(
            "pod {} ready {:.2f}s after its start ({} slot(s))",
            self.name,
            self.idle_since - self.started_at,
            self.slots,
        )

    async def _watch(self, output: asyncio.StreamReader) -> None:
        await self._relay(output)
        code = await self._proc.wait() if self._proc is not None else None
        self.exited.set()
        logger.info("pod {} exited with {}", self.name, code)
