"""Redis restarted in the middle of a call: the call goes on, the session's state is there
again after the restart, and no admin message acknowledged before it is lost.

The dev stack is pointed (REDIS_URL) at each of two servers in turn:
- a Valkey of the test's own, with an fsync-always append-only file, which the test stops
  and starts again on the same port and directory;
- the machine's shared Redis (REDIS_URL, else 127.0.0.1:6379), which keeps nothing on disk:
  the test restarts it with `SHUTDOWN SAVE` (its one snapshot) and the machine's own start
  command, removes the snapshot once loaded, and always leaves the server running, as CI and
  other work use it.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall
from tests.e2e.test_launch_path import wait_status
from tests.support.servers import free_port
from voicefleet.redis_conn import EmbeddedRedis

pytestmark = pytest.mark.e2e

PORT = free_port()
SHARED_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# How the machine starts its Redis (/work/.library/env), and so how the test starts it again.
SHARED_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


class Valkey:
    """One Valkey on a fixed port and data directory, which can be restarted."""

    def __init__(self, data: Path) -> None:
        self._data = data
        self._server = EmbeddedRedis(data_dir=data, port=PORT)
        self._server.start()
        self.url = f"redis://127.0.0.1:{PORT}/0"

    def restart(self, down_s: float) -> None:
        self._server.stop()
        time.sleep(down_s)
        self._server = EmbeddedRedis(data_dir=self._data, port=PORT)
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


class SharedRedis:
    """The machine's Redis, restarted as its start command starts it; always left running."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = Redis.from_url(url, socket_timeout=5)
        try:
            self._client.ping()
        except RedisConnectionError as exc:
            reason = f"no Redis at {url}: {exc}"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)

    def _up(self, within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                return bool(self._client.ping())
            except RedisConnectionError:
                time.sleep(0.05)
        return False

    def restart(self, down_s: float) -> None:
        where: dict[str, str] = {
            **self._client.config_get("dir"),  # type: ignore[dict-item]
            **self._client.config_get("dbfilename"),  # type: ignore[dict-item]
        }
        snapshot = Path(where["dir"]) / where["dbfilename"]
        try:
            self._client.shutdown(save=True)
            time.sleep(down_s)
        finally:
            self.stop()
            snapshot.unlink(missing_ok=True)  # loaded: no later start may load it again

    def stop(self) -> None:
        """Not stopped: started again if it is down, as the machine starts it."""
        if not self._up(0.2):
            subprocess.run(shlex.split(SHARED_START), check=True)
        assert self._up(10), f"Redis at {self.url} did not come back"


Server = Valkey | SharedRedis


@pytest.fixture(scope="module", params=["own-valkey", "shared-redis"])
def valkey(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server: Server
    if request.param == "own-valkey":
        server = Valkey(tmp_path_factory.mktemp("valkey"))
    else:
        server = SharedRedis(SHARED_URL)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(valkey: Server) -> Iterator[RunningStack]:
    running = start_stack("--warm", "1", "--max", "1", env={"REDIS_URL": valkey.url})
    yield running
    stop_stack_cleanly(running)


async def test_redis_restarted_mid_call(stack: RunningStack, valkey: Server) -> None:
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
