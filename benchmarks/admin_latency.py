"""Admin delivery latency: `POST /admin` → the bot's handler, with a bot in a live call.

    .venv/bin/python benchmarks/admin_latency.py [--messages 500]

Starts the dev stack, connects a Python WebRTC client, waits for the greeting to end, then
sends `append_context` messages (a system note, no reply: the handler's work is a frame, so
the figure is the delivery path, not TTS) one every 10 ms. Each message's record says when
the bot took it (`claimed_at`, just before its handler runs) and when it finished
(`processed_at`); both are compared with the wall clock just before the POST was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import API_KEY, dev_stack, pct, process  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402

ADMIN_KEY = "bench-admin-key"


async def run(url: str, admin_url: str, count: int) -> tuple[list[float], list[float]]:
    async with (
        WebRTCCall(url, api_key=API_KEY) as call,
        httpx.AsyncClient(
            base_url=admin_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as admin,
    ):
        await call.wait_for_audio(15)
        await call.wait_for_silence(0.8)
        sent: list[tuple[str, float]] = []
        for i in range(count + 20):
            message = {"type": "append_context", "content": f"note {i}", "respond": False}
            before = time.time()
            response = await admin.post(
                "/admin", json={"session_id": call.session_id, "message": message}
            )
            response.raise_for_status()
            sent.append((response.json()["id"], before))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        to_handler, to_done = [], []
        for message_id, before in sent[20:]:  # the first ones warm connections and caches
            record = (await admin.get(f"/admin/messages/{message_id}")).json()
            if record["status"] != "processed":
                raise RuntimeError(f"message {message_id} is {record['status']}")
            to_handler.append((record["claimed_at"] - before) * 1000)
            to_done.append((record["processed_at"] - before) * 1000)
        return to_handler, to_done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    port, admin_port = free_port(), free_port()
    env = {
        "VOICEFLEET_API_KEY": API_KEY,
        "VOICEFLEET_ADMIN_KEY": ADMIN_KEY,
        "LOGURU_LEVEL": "WARNING",
    }
    argv = dev_stack(port, "--warm", "1", admin_port=admin_port)
    with process(argv, "dev stack is up", env=env):
        to_handler, to_done = asyncio.run(
            run(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}", args.messages)
        )
    print(f"{'admin delivery':<32} {'p50':>7} {'p99':>7}   (ms, n={len(to_handler)})")
    for label, values in (("POST -> handler starts", to_handler), ("POST -> handled", to_done)):
        print(f"{label:<32} {pct(values, 0.5):7.2f} {pct(values, 0.99):7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
