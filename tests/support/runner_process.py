"""`python -m runner` as its container runs it, for the tests of the runner and its pod."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RunnerProcess:
    process: asyncio.subprocess.Process
    log: Path

    async def stdout_line(self, timeout_s: float) -> str:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        return line.decode()

    def output(self) -> str:
        return self.log.read_text()


@asynccontextmanager
async def runner_process(
    tmp_path: Path, redis_url: str, **env: str
) -> AsyncIterator[RunnerProcess]:
    """The runner with `env`, on loopback, against `redis_url`, and none of this shell's
    RUNNER_* settings: its stdout for the test to read, its stderr in tmp_path/runner.log.
    Killed at the end if it is still running."""
    log = tmp_path / "runner.log"
    with log.open("w") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runner",
            cwd=REPO,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")},
                "RUNNER_HOST": "127.0.0.1",
                "REDIS_URL": redis_url,
                **env,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    try:
        yield RunnerProcess(process, log)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
