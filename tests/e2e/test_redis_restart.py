"""Redis restarted in the middle of a call: the call goes on, the session's state is there
again after the restart, and no admin message acknowledged before it is lost.

The dev stack is pointed (REDIS_URL) at a Valkey of the test's own, with an fsync-always
append-only file, which the test stops and starts again on the same port and directory.
The shared Redis server of the machine is not restarted: other work uses it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall
from tests.e2e.test_launch_path import wait_status
from tests.support.servers import free_port
from voicefleet.redis_conn import EmbeddedRedis

pytestmark = pytest.mark.e2e

PORT = free_port()


class Valkey:
    """One Valkey on a fixed port and data directory, which can be restarted."""

    def __init__(self, data: Path) -> None:
        self._data = data
        self._server = EmbeddedRedis(data_dir=data, port=PORT)
        self._server.start()

    def restart(self, down_s: float) -> None:
        self._server.stop()
        time.sleep(down_s)
        self._server = EmbeddedRedis(data_dir=self._data, port=PORT)
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Valkey]:
    server = Valkey(tmp_path_factory.mktemp("valkey"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(valkey: Valkey) -> Iterator[RunningStack]:
    running = start_stack(
        "--warm", "1", "--max", "1", env={"REDIS_URL": f"redis://127.0.0.1:{PORT}/0"}
    )
    yield running
    stop_stack_cleanly(running)


async def test_redis_restarted_mid_call(stack: RunningStack, valkey: Valkey) -> None:
    admin = httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers)
    try:
        async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
            await call.wait_for_audio(30)
            await call.wait_for_silence(0.8, 30)
            acknowledged = []
            for i in range(20):
                note = {"type": "append_context", "content": f"Fact {i}.", "respond": False}
                sent = await admin.post(
                    "/admin", json={"session_id": call.session_id, "message": note}
                )
                assert sent.status_code == 202, sent.text
                acknowledged.append(sent.json()["id"])

            await asyncio.to_thread(valkey.restart, 1.0)

            # The session's state is back, and the call goes on: the bot speaks when told.
            assert (await call.session())["status"] == "joined"
            since = time.perf_counter()
            say = {"type": "say", "text": "Redis came back."}
            sent = await admin.post("/admin", json={"session_id": call.session_id, "message": say})
            assert sent.status_code == 202, sent.text
            await call.wait_for_audio_after(since, timeout_s=30)

            # Every message acknowledged before the restart was handled.
            deadline = time.monotonic() + 30
            statuses: list[str] = []
            while time.monotonic() < deadline:
                statuses = [
                    (await admin.get(f"/admin/messages/{m}")).json()["status"] for m in acknowledged
                ]
                if set(statuses) == {"processed"}:
                    break
                await asyncio.sleep(0.3)
            assert statuses == ["processed"] * len(acknowledged), statuses
        record = await wait_status(stack, call.session_id or "", "ended", "failed", timeout_s=20)
        assert (record["status"], record["reason"]) == ("ended", "client left"), record
    finally:
        await admin.aclose()
