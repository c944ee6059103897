"""Launch latency through the whole local stack vs. Pipecat's own single-process server.

    .venv/bin/python benchmarks/launch_latency.py [--warm-runs 30] [--cold-runs 8]

Measures, with a Python aiortc client and its own offer creation subtracted, `POST /start` →
SDP answer and `POST /start` → first audible audio, for: the baseline (Pipecat's dev runner
with a canned tone), voicefleet with a warm runner (gateway → broker → pool → runner), and
voicefleet from zero (min-scale 0, every call starts a runner process). Prints p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.servers import free_port  # noqa: E402
from voicefleet.client.webrtc import WebRTCCall  # noqa: E402

API_KEY = "bench-key"


def dev_stack(port: int, *options: str, admin_port: int | None = None) -> list[str]:
    """`voicefleet dev` with the gateway on `port` and its other services on free ports, so
    that a benchmark never collides with a stack the user has running."""
    ports = ["--port", str(port), "--admin-port", str(admin_port or free_port())]
    ports += ["--mesh-port", str(free_port())]
    return [sys.executable, "-m", "voicefleet.cli", "dev", *ports, *options]


@contextmanager
def process(argv: list[str], ready_line: str, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    up = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if ready_line in line:
                up.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not up.wait(120):
            raise RuntimeError(f"{argv} did not start")
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def one_call(url: str, api_key: str | None) -> tuple[float, float]:
    async with WebRTCCall(url, api_key=api_key) as call:
        first_audio = await call.wait_for_audio(30)
        return call.answer_latency_s, first_audio


async def wait_until_ended(url: str, session_ids: list[str]) -> None:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}) as h:
        for sid in session_ids:
            for _ in range(200):
                if (await h.get(f"/sessions/{sid}")).json()["status"] in ("ended", "failed"):
                    break
                await asyncio.sleep(0.02)


async def series(
    url: str, runs: int, api_key: str | None, pause_s: float
) -> list[tuple[float, float]]:
    results = []
    for _ in range(runs):
        results.append(await one_call(url, api_key))
        await asyncio.sleep(pause_s)
    return results


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(q * (len(ordered) - 1)), len(ordered) - 1)]


def report(name: str, results: list[tuple[float, float]]) -> dict[str, float]:
    answers = [a * 1000 for a, _ in results]
    audio = [f * 1000 for _, f in results]
    row = {
        "answer_p50": statistics.median(answers),
        "answer_p95": pct(answers, 0.95),
        "audio_p50": statistics.median(audio),
        "audio_p95": pct(audio, 0.95),
    }
    print(
        f"{name:<28} n={len(results):<3} answer p50 {row['answer_p50']:7.1f} ms  p95 "
        f"{row['answer_p95']:7.1f} ms | first audio p50 {row['audio_p50']:7.1f} ms  p95 "
        f"{row['audio_p95']:7.1f} ms",
        flush=True,
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm-runs", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=8)
    args = parser.parse_args()
    py = sys.executable
    rows: dict[str, dict[str, float]] = {}

    port = free_port()
    with process(
        [py, "benchmarks/baseline_bot.py", "-t", "webrtc", "--port", str(port)],
        "Uvicorn running",
        env={"PYTHONUNBUFFERED": "1", "LOGURU_LEVEL": "INFO"},
    ):
        url = f"http://localhost:{port}"
        asyncio.run(series(url, 2, None, 0.3))  # warm-up
        rows["baseline"] = report(
            "pipecat single process", asyncio.run(series(url, args.warm_runs, None, 0.3))
        )

    env = {"VOICEFLEET_API_KEY": API_KEY, "LOGURU_LEVEL": "WARNING"}
    port = free_port()
    with process(
        dev_stack(port, "--warm", "1", "--max", "1"),
        "dev stack is up",
        env=env,
    ):
        url = f"http://127.0.0.1:{port}"
        asyncio.run(series(url, 2, API_KEY, 0.5))
        rows["warm"] = report(
            "voicefleet warm runner", asyncio.run(series(url, args.warm_runs, API_KEY, 0.5))
        )

    if args.cold_runs:
        port = free_port()
        with process(
            dev_stack(port, "--warm", "0", "--max", "1", "--scale-down-delay", "0.2"),
            "dev stack is up",
            env=env,
        ):
            url = f"http://127.0.0.1:{port}"
            rows["cold"] = report(
                "voicefleet cold (from zero)",
                asyncio.run(series(url, args.cold_runs, API_KEY, 2.5)),
            )

    base, warm = rows["baseline"], rows["warm"]
    print(
        f"\nwarm vs baseline: answer +{warm['answer_p50'] - base['answer_p50']:.1f} ms"
        " (p50, aim <= 25),"
        f" first audio x{warm['audio_p50'] / base['audio_p50']:.2f} (p50, aim <= 1.3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
