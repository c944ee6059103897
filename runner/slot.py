"""One slot of a runner pod: a runner process that runs the pod's sessions one at a time.

The process is forked from the pod's zygote (runner/zygote.py) when there is one, else
started as `python -m runner` in slot mode; either way it serves the runner's HTTP API on
a Unix socket of its own and is watched through its output: its ready line, its logs, and
end of file when it exits. How it exited (a signal, a code) is what the pod records as the
reason of a call its death ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from loguru import logger

from runner.child_process import RunnerProcess
from runner.forks import Zygote, ZygoteError


def describe_exit(code: int | None) -> str:
    """`os.waitstatus_to_exitcode`'s figure as a person would say it."""
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class Slot(RunnerProcess):
    """A runner process of the pod, on `socket_path`; `session` is the call it holds."""

    def __init__(self, name: str, socket_path: str, env: dict[str, str]) -> None:
        super().__init__(name, env, label=name)
        self.socket_path = socket_path
        self.session: str | None = None
        self.exit_code: int | None = None
        self.forked = False
        self._zygote: Zygote | None = None

    @property
    def free(self) -> bool:
        return self.ready.is_set() and not self.exited.is_set() and self.session is None

    async def start(self, zygote: Zygote | None) -> None:
        env = {**self._env, "RUNNER_ID": self.name, "RUNNER_SLOT_SOCKET": self.socket_path}
        env["RUNNER_AUTO_START"] = "0"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)  # a dead predecessor's
        self.started_at = time.monotonic()
        forked: tuple[int, asyncio.StreamReader] | None = None
        if zygote is not None and zygote.alive:
            try:
                forked = await zygote.fork(env)
            except ZygoteError as exc:
                logger.warning("{}: not forked ({}); starting a process", self.name, exc)
        if forked is not None:
            self.pid, output = forked
            self.forked = True
            self._zygote = zygote
        else:
            output = await self._spawn(env)
        self._watcher = asyncio.create_task(self._watch(output))

    def _on_ready(self) -> None:
        logger.info(
            "{} ready {:.2f}s after its {}",
            self.name,
            time.monotonic() - self.started_at,
            "fork" if self.forked else "start",
        )

    async def _watch(self, output: asyncio.StreamReader) -> None:
        await self._relay(output)
        if self._proc is not None:
            self.exit_code = await self._proc.wait()
        elif self._zygote is not None and self.pid is not None:
            self.exit_code = await self._zygote.exit_status(self.pid)
        self.exited.set()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        logger.info("{} exited: {}", self.name, describe_exit(self.exit_code))
