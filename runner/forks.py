"""The pod's side of the runner zygote (runner/zygote.py): start it, ask it for runners.

Each request sends the runner's environment and the write end of a fresh pipe over a Unix
socket pair; the forked runner writes its stdout and stderr there, so the pod watches a
forked runner exactly as it watches a started one (its ready line, its logs, end of file
when it exits). A forked runner is the zygote's child, not ours: the zygote reaps it and
prints how it exited, which `exit_status` hands to whoever asks (a killed session's reason).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys

from loguru import logger

from runner.child_output import relay
from runner.zygote import EXIT_LINE, READY_LINE
from voicefleet.parent_death import ends_with_us


class ZygoteError(RuntimeError):
    pass


class Zygote:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._proc: asyncio.subprocess.Process | None = None
        self._control: socket.socket | None = None
        self._lock = asyncio.Lock()
        self._pump: asyncio.Task[None] | None = None
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._ready: asyncio.Future[str] | None = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self, timeout_s: float = 120.0) -> None:
        """Spawn it (unless `spawn` did) and wait until it has loaded."""
        if self._proc is None:
            await self.spawn()
        assert self._ready is not None
        try:
            line = await asyncio.wait_for(self._ready, timeout_s)
        except TimeoutError as exc:
            await self.stop()
            raise ZygoteError(f"the runner zygote was not ready within {timeout_s:g}s") from exc
        logger.info("runner zygote ready: {}", line)

    async def spawn(self) -> None:
        """Start the process, which loads on its own while the caller does other work."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "runner.zygote",
                str(theirs.fileno()),
                env={**os.environ, **self._env},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                pass_fds=[theirs.fileno()],
                start_new_session=True,  # Ctrl-C reaches the stack, which stops us last
                preexec_fn=ends_with_us(),  # and the kernel ends us should the stack die first
            )
        finally:
            theirs.close()
        self._control = ours
        self._ready = asyncio.get_running_loop().create_future()
        self._pump = asyncio.create_task(self._read_output(self._ready))

    async def _read_output(self, ready: asyncio.Future[str]) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith(READY_LINE) and not ready.done():
                ready.set_result(line.removeprefix(READY_LINE).strip())
            elif line.startswith(EXIT_LINE):
                pid, code = (int(part) for part in line.removeprefix(EXIT_LINE).split())
                exited = self._exit_future(pid)
                if not exited.done():
                    exited.set_result(code)
            else:
                relay("zygote", line)
        if not ready.done():
            ready.set_exception(ZygoteError("the runner zygote exited while loading"))

    def _exit_future(self, pid: int) -> asyncio.Future[int]:
        if pid not in self._exits:
            self._exits[pid] = asyncio.get_running_loop().create_future()
        return self._exits[pid]

    async def exit_status(self, pid: int, timeout_s: float = 2.0) -> int | None:
        """How a forked runner exited (`os.waitstatus_to_exitcode`: -N for signal N), once
        the zygote has reaped it; None if it does not say in time (it died too)."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._exit_future(pid)), timeout_s)
        except TimeoutError:
            return None
        finally:
            self._exits.pop(pid, None)

    async def fork(self, env: dict[str, str]) -> tuple[int, asyncio.StreamReader]:
        """A new runner with `env` as its whole environment: its pid and its output."""
        if not self.alive or self._control is None:
            raise ZygoteError("the runner zygote is not running")
        read_fd, write_fd = os.pipe()
        try:
            async with self._lock:
                reply = await asyncio.to_thread(self._request, {"env": env}, write_fd)
        finally:
            os.close(write_fd)
        if "pid" not in reply:
            os.close(read_fd)
            raise ZygoteError(f"the runner zygote refused to fork: {reply.get('error')}")
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
        )
        pid = reply["pid"]
        assert isinstance(pid, int)
        return pid, reader

    def _request(self, request: dict[str, object], fd: int) -> dict[str, object]:
        assert self._control is not None
        socket.send_fds(self._control, [json.dumps(request).encode()], [fd])
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = self._control.recv(65536)
            if not chunk:
                raise ZygoteError("the runner zygote closed its control socket")
            reply += chunk
        answer: dict[str, object] = json.loads(reply)
        return answer

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close the control socket (the zygote exits when it sees that), then wait."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None and self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), grace_s)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._pump is not None:
            await self._pump
