"""Session reports: how soon a tenant's webhook has the report once a call ends, and how
large a report grows per minute of call.

    .venv/bin/python benchmarks/report_delivery.py [--calls 10] [--minutes 60]

Delivery: starts the dev stack (loopback receivers allowed), registers a webhook on a local
receiver that verifies each signature, makes `--calls` WebRTC calls that hang up after the
greeting, and measures, from the moment the client hangs up, (a) the session record's
`ended_at` (the runner has written the final status: the peer, what the platform already
knew before this issue) and (b) the signed report's arrival at the webhook. Their difference
is what the report path adds: runner → broker → records (stored) → broker → records → webhook.

Size: one measured call (the benchmark's own, which says a sentence and has a tool call) and
a synthetic report of `--minutes`, built turn by turn at the measured call's bytes per turn,
against the broker's event limit (`VOICEFLEET_REPORT_EVENT_MAX_BYTES`, 1 MB like Kafka's).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import API_KEY, dev_stack, pct, process  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402
from tests.support.servers import free_port, serving  # noqa: E402
from voicefleet.reports import SessionReport, ToolCallRecord, TranscriptLine, TurnFigures  # noqa: E402

ADMIN_KEY = "bench-admin-key"
EVENT_LIMIT = 1_000_000


class Receiver:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.all_in = asyncio.Event()
        self.secret = ""
        self.arrived: dict[str, tuple[float, int, dict[str, Any]]] = {}
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        payload = Webhook(self.secret).verify(body, dict(request.headers))
        data = payload["data"]
        self.arrived.setdefault(data["session_id"], (time.time(), len(body), data))
        if len(self.arrived) >= self.expected:
            self.all_in.set()
        return JSONResponse({"ok": True})


async def calls(url: str, admin_url: str, count: int) -> tuple[list[float], list[float], list[int]]:
    receiver = Receiver(count)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with (
        serving(receiver.app) as hook_url,
        httpx.AsyncClient(
            base_url=admin_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as admin,
        httpx.AsyncClient(base_url=url, headers=headers) as gateway,
    ):
        created = await admin.post("/webhooks", json={"url": hook_url + "/hook"})
        created.raise_for_status()
        receiver.secret = created.json()["secret"]
        hangups: dict[str, float] = {}
        for _ in range(count):
            async with WebRTCCall(url, api_key=API_KEY) as call:
                await call.wait_for_audio(30)
                await call.wait_for_silence(0.8, 30)
                hangups[str(call.session_id)] = time.time()
        await asyncio.wait_for(receiver.all_in.wait(), 60)
        to_ended, to_webhook, sizes = [], [], []
        for sid, hung_up in hangups.items():
            record = (await gateway.get(f"/sessions/{sid}")).json()
            to_ended.append((record["ended_at"] - hung_up) * 1000)
            arrived, size, _ = receiver.arrived[sid]
            to_webhook.append((arrived - hung_up) * 1000)
            sizes.append(size)
        return to_ended, to_webhook, sizes


def synthetic(minutes: float, turn_every_s: float = 8.0) -> int:
    """Bytes of a report of `minutes`: a user line of 12 words and a bot line of 30 every
    `turn_every_s`, the stage figures of each turn, a tool call a minute."""
    turns = int(minutes * 60 / turn_every_s)
    words = "the quick brown fox jumps over the lazy dog and then some more words".split()
    lines, figures, tools = [], [], []
    for i in range(turns):
        at = i * turn_every_s
        lines.append(
            TranscriptLine(role="user", text=" ".join((words * 3)[:12]), start_s=at, end_s=at + 2.5)
        )
        lines.append(
            TranscriptLine(
                role="bot", text=" ".join((words * 3)[:30]), start_s=at + 3.2, end_s=at + 7.5
            )
        )
        figures.append(
            TurnFigures(
                index=i,
                at_s=at + 2.5,
                vad_stop_s=0.2,
                stt_s=0.312,
                llm_first_token_s=0.421,
                tts_first_audio_s=0.118,
                end_of_speech_to_first_audio_s=0.912,
            )
        )
    for m in range(int(minutes)):
        tools.append(
            ToolCallRecord(
                name="bot_create_note",
                at_s=m * 60.0,
                duration_ms=41.2,
                outcome="ok",
                arguments={"title": "budget for the quarter"},
            )
        )
    report = SessionReport(
        session_id="x" * 32,
        tenant="acme",
        transport="webrtc",
        status="ended",
        end_reason="client left",
        started_at=0,
        ended_at=minutes * 60,
        duration_s=minutes * 60,
        transcript=lines,
        turns=figures,
        tool_calls=tools,
    )
    return len(report.model_dump_json().encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    port, admin_port = free_port(), free_port()
    folder = Path(tempfile.mkdtemp(prefix="voicefleet-bench-records-"))
    env = {
        "VOICEFLEET_API_KEY": API_KEY,
        "VOICEFLEET_ADMIN_KEY": ADMIN_KEY,
        "VOICEFLEET_WEBHOOKS_ALLOW_LOOPBACK": "true",
        "VOICEFLEET_RECORDS_DATABASE_URL": f"sqlite:///{folder / 'records.db'}",
        "LOGURU_LEVEL": "WARNING",
    }
    argv = dev_stack(port, "--warm", "1", "--max", "1", admin_port=admin_port)
    with process(argv, "dev stack is up", env=env):
        to_ended, to_webhook, sizes = asyncio.run(
            calls(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}", args.calls)
        )
    print(f"{'from hang-up to':<34} {'p50':>8} {'p95':>8}   (ms, n={len(to_webhook)})")
    for label, values in (
        ("session record says ended", to_ended),
        ("signed report at the webhook", to_webhook),
    ):
        print(f"{label:<34} {pct(values, 0.5):8.1f} {pct(values, 0.95):8.1f}")
    print(f"webhook body of a greeting-only call: {pct([float(s) for s in sizes], 0.5):.0f} bytes")
    per_minute = synthetic(10) / 10
    total = synthetic(args.minutes)
    print(
        f"synthetic report: {per_minute / 1000:.1f} kB per minute; {args.minutes:g} min: "
        f"{total / 1000:.0f} kB ({total / EVENT_LIMIT:.0%} of the 1 MB event limit)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
