"""Faults in the middle of real calls through the dev stack: a runner killed or told to stop.

The dev stack runs with a short lease (2 s) so that a dead runner is noticed quickly; the
figures in the README's Reliability section come from these tests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.stack import RunningStack, alive, children, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e

LEASE_S = 2.0


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack(
        "--warm", "1", "--max", "2",
        env={"RUNNER_LEASE_MS": str(int(LEASE_S * 1000)), "RUNNER_HEARTBEAT_S": "0.5"},
    )  # fmt: skip
    yield running
    stop_stack_cleanly(running)


def runner_pid(stack: RunningStack, name: str) -> int:
    """The process of the dev pool's runner called `name` (its RUNNER_ID): a started runner
    has it in its environment, a forked one (the zygote's) in its process name."""
    wanted = f"RUNNER_ID={name}".encode()
    for pid in children(stack.process.pid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if (wanted in environ or comm == name[:15]) and alive(pid):
            return pid
    raise LookupError(f"no runner process {name}")


async def record_of(stack: RunningStack, session_id: str) -> dict:
    async with httpx.AsyncClient(base_url=stack.url, headers=stack.headers) as http:
        response = await http.get(f"/sessions/{session_id}")
        response.raise_for_status()
        return response.json()


async def wait_final(stack: RunningStack, session_id: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        record = await record_of(stack, session_id)
        if record["status"] in ("ended", "failed") or time.monotonic() > deadline:
            return record
        await asyncio.sleep(0.2)


async def test_kill_9_of_the_runner_holding_a_call(stack: RunningStack) -> None:
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(15)
        joined = await call.session()
        assert joined["status"] == "joined"
        killed = runner_pid(stack, joined["runner"])
        os.kill(killed, signal.SIGKILL)

        # Failed at once with the reason its pod saw, never stuck `joined`.
        record = await wait_final(stack, call.session_id or "", LEASE_S * 5)
    assert record["status"] == "failed", record
    assert record["reason"] == "runner process died: signal 9 (SIGKILL)", record
    # The broker's retry of that launch ran no second bot: the record still names the dead
    # runner, and stays failed.
    await asyncio.sleep(LEASE_S)
    again = await record_of(stack, record["session_id"])
    assert (again["status"], again["runner"]) == ("failed", joined["runner"])

    # The pod forked a fresh process for the slot: the next call is answered and greeted.
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(30)
        assert (await call.session())["runner"] != joined["runner"]


async def test_sigterm_mid_call_lets_the_call_go_on_then_the_runner_exits(
    stack: RunningStack,
) -> None:
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(30)
        await call.wait_for_silence()
        name = (await call.session())["runner"]
        pid = runner_pid(stack, name)
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(LEASE_S * 1.5)  # past a lease: the runner still renews it

        # The call goes on: the bot still speaks when told to.
        since = time.perf_counter()
        async with httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as h:
            say = {"type": "say", "text": "Still here."}
            sent = await h.post("/admin", json={"session_id": call.session_id, "message": say})
        assert sent.status_code == 202, sent.text
        await call.wait_for_audio_after(since, timeout_s=20)
        assert (await call.session())["status"] == "joined"
        assert alive(pid)
    # Its natural end (the client leaves), then the runner exits.
    record = await wait_final(stack, call.session_id or "", 20)
    assert (record["status"], record["reason"]) == ("ended", "client left"), record
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.2)
    assert not alive(pid), "the draining runner did not exit after its call"
