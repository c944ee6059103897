"""Launch latency through the whole local stack vs. Pipecat's own single-process server.

    .venv/bin/python benchmarks/launch_latency.py [--warm-runs 30] [--cold-runs 8]

Measures, with a Python aiortc client and its own offer creation subtracted, `POST /start` →
SDP answer and `POST /start` → first audible audio. Every series runs beside its peer in the
same run, alternating call by call, so machine noise falls on both:

- warm: Pipecat's dev runner already serving (a canned tone) vs. voicefleet with a warm
  runner (gateway → broker → pool → a pod of one slot) and vs. a launch landing on a pod of
  two slots whose other slot holds a call (`--slots 2`, a held caller beside the series);
- cold: a fresh start of Pipecat's dev runner (process start → SDP answer and first audio:
  what a scale-from-zero pod running it costs) vs. voicefleet from zero (min-scale 0: a new
  pod, `python -m runner`, starting its zygote and forking its slot for the call) and, for
  reference, a new pod without the zygote (its slot a `python -m runner` process of its own).

For the cold voicefleet calls it also prints the session record's start-up spans.
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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devstack.ports import free_port  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402

API_KEY = "bench-key"


def dev_stack(port: int, *options: str, admin_port: int | None = None) -> list[str]:
    """`voicefleet dev` with the gateway on `port` and its other services on free ports, so
    that a benchmark never collides with a stack the user has running."""
    ports = ["--port", str(port), "--admin-port", str(admin_port or free_port())]
    ports += ["--mesh-port", str(free_port())]
    return [sys.executable, "-m", "control.cli", "dev", *ports, *options]


@contextmanager
def process(
    argv: list[str], ready_line: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
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
        yield proc
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


async def fresh_baseline(port: int) -> tuple[float, float]:
    """Start Pipecat's dev runner and call it as soon as it listens: seconds from process
    start to the SDP answer and to the first audio."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "benchmarks/baseline_bot.py",
        "-t",
        "webrtc",
        "--port",
        str(port),
        cwd=ROOT,
        env={**os.environ, "LOGURU_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                async with WebRTCCall(f"http://localhost:{port}") as call:
                    rec = call.recording
                    await call.wait_for_audio(60)
                    assert rec.answer_at is not None and rec.first_audio_at is not None
                    return (
                        rec.answer_at - started - rec.client_setup_s,
                        rec.first_audio_at - started - rec.client_setup_s,
                    )
            except httpx.ConnectError:
                await asyncio.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


SPANS = (
    "launch_to_claimed_ms",
    "claimed_to_ready_ms",
    # claimed → ready in parts (WebRTC): the client's offer, the bot's answer, the connection
    "claimed_to_offer_ms",
    "offer_to_answer_ms",
    "answer_to_ready_ms",
    "ready_to_first_audio_ms",
    "client_offer_ms",  # the benchmark's client making its offer (not a record's span)
)


async def traced_call(url: str, spans: list[dict[str, float]]) -> tuple[float, float]:
    async with WebRTCCall(url, api_key=API_KEY) as call:
        first_audio = await call.wait_for_audio(60)
        await asyncio.sleep(0.2)  # the first-audio span is written just after it goes out
        record = await call.session()
        spans.append({k: float(record[k]) for k in SPANS if record.get(k) is not None})
        spans[-1]["cold_start"] = float(bool(record.get("cold_start")))
        # Inside claimed_to_offer_ms, and subtracted from the answer and first-audio figures.
        spans[-1]["client_offer_ms"] = call.recording.client_setup_s * 1000
        return call.answer_latency_s, first_audio


def print_spans(name: str, spans: list[dict[str, float]]) -> None:
    """Where a launch's time went, from its session record (GET /sessions/{id})."""
    print(f"{name}: start-up spans (ms)")
    for span in SPANS:
        values = [s[span] for s in spans if span in s]
        if values:
            p50, p95 = statistics.median(values), pct(values, 0.95)
            print(f"    {span:<26} p50 {p50:7.1f}  p95 {p95:7.1f}")


async def alternate(
    peers: dict[str, object], runs: int, pause_s: float
) -> dict[str, list[tuple[float, float]]]:
    """Call each peer in turn, `runs` times, flipping the order every round."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in peers}
    names = list(peers)
    for i in range(runs):
        for name in names if i % 2 == 0 else names[::-1]:
            call = peers[name]
            results[name].append(await call())  # type: ignore[operator]
            await asyncio.sleep(pause_s)
    return results


async def beside_a_call(
    busy_url: str, peers: dict[str, object], runs: int
) -> dict[str, list[tuple[float, float]]]:
    """The warm series while a caller holds one slot of the pod at `busy_url`: every launch
    there lands on a pod with a free slot and a call in progress."""
    async with WebRTCCall(busy_url, api_key=API_KEY) as held:
        await held.wait_for_audio(60)
        await alternate(peers, 2, 0.3)  # warm-up
        return await alternate(peers, runs, 0.4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm-runs", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=8)
    args = parser.parse_args()
    py = sys.executable
    env = {"VOICEFLEET_API_KEY": API_KEY, "LOGURU_LEVEL": "WARNING"}
    rows: dict[str, dict[str, float]] = {}

    if args.warm_runs:
        base_port, warm_port, pod_port = free_port(), free_port(), free_port()
        base_url, warm_url = f"http://localhost:{base_port}", f"http://127.0.0.1:{warm_port}"
        pod_url = f"http://127.0.0.1:{pod_port}"
        with (
            process(
                [py, "benchmarks/baseline_bot.py", "-t", "webrtc", "--port", str(base_port)],
                "Uvicorn running",
                env={"PYTHONUNBUFFERED": "1", "LOGURU_LEVEL": "INFO"},
            ),
            process(
                dev_stack(warm_port, "--warm", "1", "--max", "1", "--slots", "1"),
                "dev stack is up",
                env=env,
            ),
            process(
                dev_stack(pod_port, "--warm", "1", "--max", "1", "--slots", "2"),
                "dev stack is up",
                env=env,
            ),
        ):
            warm_spans: list[dict[str, float]] = []
            peers = {
                "pipecat single process": lambda: one_call(base_url, None),
                "voicefleet warm runner": lambda: traced_call(warm_url, warm_spans),
                "voicefleet pod, free slot": lambda: one_call(pod_url, API_KEY),
            }
            for name, results in asyncio.run(beside_a_call(pod_url, peers, args.warm_runs)).items():
                rows[name] = report(name, results)
        base, warm = rows["pipecat single process"], rows["voicefleet warm runner"]
        shared = rows["voicefleet pod, free slot"]
        print(
            f"warm vs baseline: answer +{warm['answer_p50'] - base['answer_p50']:.1f} ms"
            " (p50, aim <= 25),"
            f" first audio x{warm['audio_p50'] / base['audio_p50']:.2f} (p50, aim <= 1.3)\n"
            f"pod with a free slot vs warm runner: first audio x"
            f"{shared['audio_p50'] / warm['audio_p50']:.2f} (p50), x"
            f"{shared['audio_p95'] / warm['audio_p95']:.2f} (p95) (aim <= 1)\n"
        )
        print_spans("voicefleet warm runner", warm_spans[2:])  # less the warm-up calls

    if args.cold_runs:
        cold = ("--warm", "0", "--max", "1", "--scale-down-delay", "0.2")
        zygote_port, plain_port = free_port(), free_port()
        spans: dict[str, list[dict[str, float]]] = {"zygote": [], "plain": []}
        with (
            process(dev_stack(zygote_port, *cold), "dev stack is up", env=env),
            process(dev_stack(plain_port, *cold, "--no-zygote"), "dev stack is up", env=env),
        ):
            zygote_url, plain_url = (
                f"http://127.0.0.1:{zygote_port}",
                f"http://127.0.0.1:{plain_port}",
            )
            peers = {
                "pipecat fresh process": lambda: fresh_baseline(free_port()),
                "voicefleet cold (zygote)": lambda: traced_call(zygote_url, spans["zygote"]),
                "voicefleet cold (no zygote)": lambda: traced_call(plain_url, spans["plain"]),
            }
            # Long enough for the pool to scale the runner away: every call starts from zero.
            for name, results in asyncio.run(alternate(peers, args.cold_runs, 1.5)).items():
                rows[name] = report(name, results)
        base = rows["pipecat fresh process"]
        for name, key in (
            ("voicefleet cold (zygote)", "zygote"),
            ("voicefleet cold (no zygote)", "plain"),
        ):
            row = rows[name]
            answer = row["answer_p50"] / base["answer_p50"]
            audio = row["audio_p50"] / base["audio_p50"]
            colds = sum(s["cold_start"] for s in spans[key])
            print(
                f"{name} vs a fresh Pipecat process: answer x{answer:.2f} (p50; aim <= 0.5"
                f" with the zygote), first audio x{audio:.2f}; cold starts {colds:.0f}/"
                f"{len(spans[key])}"
            )
            print_spans(name, spans[key])
    return 0


if __name__ == "__main__":
    sys.exit(main())
