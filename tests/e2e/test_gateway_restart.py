"""The gateway process killed (kill -9) and restarted in the middle of a call: the call is
unaffected, and `GET /sessions/{id}` answers again.

The dev stack runs its gateway in-process, so this gateway is a second one, run as its
container runs it (`voicefleet gateway`, functions-framework), on the stack's Redis and
broker: the call's signalling goes through it, its media straight to the runner.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from harness.stack import API_KEY, RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall
from tests.e2e.test_launch_path import wait_status
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack("--warm", "1", "--max", "1")
    yield running
    stop_stack_cleanly(running)


def _logged(stack: RunningStack, pattern: str) -> str:
    for line in stack.output:
        if found := re.search(pattern, line):
            return found.group(1)
    raise LookupError(pattern)


def start_gateway(stack: RunningStack, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": _logged(stack, r"embedded Valkey at (\S+)"),
        "K_SINK": _logged(stack, r"broker at (\S+)") + "/",
        "VOICEFLEET_API_KEY": API_KEY,
    }
    argv = [sys.executable, "-m", "control.cli", "gateway", "--host", "127.0.0.1"]
    # Its own process group: functions-framework serves from a gunicorn worker under a
    # master, and a container killed takes both (a master killed alone orphans its worker).
    gateway = subprocess.Popen(
        [*argv, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return gateway
        except httpx.TransportError:
            time.sleep(0.1)
    kill(gateway)
    raise RuntimeError("the gateway did not come up")


def kill(gateway: subprocess.Popen[bytes]) -> None:
    """kill -9 of the whole gateway (master and worker), as when its container dies."""
    try:
        os.killpg(gateway.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    gateway.wait(10)


async def test_gateway_killed_and_restarted_mid_call(stack: RunningStack) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gateway = start_gateway(stack, port)
    try:
        async with WebRTCCall(url, api_key=stack.api_key) as call:
            await call.wait_for_audio(30)
            await call.wait_for_silence(0.8, 30)
            kill(gateway)
            with pytest.raises(httpx.TransportError):  # it is gone
                await call.session()

            # The call is unaffected: the bot still speaks when told to (admin function).
            since = time.perf_counter()
            async with httpx.AsyncClient(
                base_url=stack.admin_url, headers=stack.admin_headers
            ) as admin:
                say = {"type": "say", "text": "The gateway is gone, I am not."}
                sent = await admin.post(
                    "/admin", json={"session_id": call.session_id, "message": say}
                )
            assert sent.status_code == 202, sent.text
            await call.wait_for_audio_after(since, timeout_s=20)

            gateway = start_gateway(stack, port)
            record = await call.session()  # through the restarted gateway
            assert record["status"] == "joined", record
        record = await wait_status(
            stack, call.session_id or "", "ended", "failed", timeout_s=20, gateway_url=url
        )
        assert (record["status"], record["reason"]) == ("ended", "client left"), record
    finally:
        kill(gateway)
