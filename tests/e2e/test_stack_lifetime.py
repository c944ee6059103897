"""Every process the dev stack starts ends with it: after Ctrl-C with a call running, and
after the stack itself is killed (SIGKILL leaves it no chance to stop anything).

The processes are found by the process tree (`/proc`), while the stack runs: the local LLM
server, the zygote, the runners it forked and those started as processes. The stack's own
end is awaited, and then each of those processes' (the kernel ends them at once or not at all).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from harness.stack import RunningStack, alive, children, start_stack
from harness.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e

# How long a process the kernel signalled may take to be gone: far more than it needs.
GONE_WITHIN_S = 10.0


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


def _left(pids: set[int]) -> dict[int, str]:
    """Those of pids still alive once the kernel had time to end them."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {p: _command(p) for p in pids if alive(p)}


@pytest.fixture
def stack() -> Iterator[RunningStack]:
    # With the local LLM (the suite otherwise points the stack at a fake OpenAI server).
    running = start_stack("--warm", "1", "--max", "2", env={"OPENAI_BASE_URL": ""})
    started = children(running.process.pid)
    yield running
    # Whatever a failed test left behind is ours to end (by pid, only what the stack started).
    for pid in started | children(running.process.pid):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait(10)


def _in_a_call(stack: RunningStack) -> set[int]:
    """Starts a call that stays up, and returns the stack's processes while it runs."""

    async def call() -> set[int]:
        session = WebRTCCall(stack.url, api_key=stack.api_key)
        await session.__aenter__()  # left open: the stack is stopped under it
        await session.wait_for_audio(20)
        assert (await session.session())["status"] == "joined"
        return children(stack.process.pid)

    return asyncio.run(call())


def test_sigkill_of_the_stack_leaves_no_process(stack: RunningStack) -> None:
    started = _in_a_call(stack)
    commands = " ".join(_command(p) for p in started)
    assert "llama_cpp.server" in commands and "runner" in commands, commands

    stack.process.send_signal(signal.SIGKILL)
    stack.process.wait(10)

    assert _left(started) == {}


def test_ctrl_c_with_a_call_running_stops_everything(stack: RunningStack) -> None:
    started = _in_a_call(stack)

    began = time.monotonic()
    stack.process.send_signal(signal.SIGINT)
    code = stack.process.wait(60)
    left = _left(started)
    took = time.monotonic() - began

    assert code == 0, "".join(stack.output[-40:])
    assert left == {}
    print(f"\nCtrl-C with a call running: the stack and its {len(started)} processes "
          f"gone in {took:.1f}s")  # fmt: skip
