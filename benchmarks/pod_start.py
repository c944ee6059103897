"""A fresh runner pod's start, piece by piece, beside a fresh Pipecat process's start.

    .venv/bin/python benchmarks/pod_start.py [--runs 5] [--providers] [--vs-tree DIR]

Each round starts `python -m runner` (the image's pod, one slot) and Pipecat's own dev runner
(`benchmarks/baseline_bot.py`, SmallWebRTC, a canned tone), in turn, and calls each once, as
soon as it can take a call: process start → ready (the pod's ready line: its slot has loaded;
Pipecat's "Uvicorn running"), → the first launch answered (the SDP answer: the pod is handed a
launch and the client's offer reaches it through a stand-in for the gateway's relay; Pipecat's
server is called as it listens) and → its first audio (the greeting; Pipecat's tone), the
client's own offer making left out of both. From the pod's log it takes the pieces: the
zygote's imports and its models, and the slot's fork → ready (what cannot cross a fork:
Whisper, the runner's server and Redis client). `--providers` configures the production
providers (Deepgram STT and OpenAI's LLM and TTS, local stand-ins speaking their wire
protocols) instead of the offline ones, so the pod imports and loads only those.
`--vs-tree DIR` adds a third start to each round, the pod of another checkout (another
commit's: a before and after in one run, so the machine's load falls on both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.launch_latency import pct, process  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from harness.offer_shim import offer_shim  # noqa: E402
from harness.providers.__main__ import READY_LINE as PROVIDERS_READY  # noqa: E402
from harness.providers.server import bot_env as provider_env  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402
from runner.child_process import READY_LINE  # noqa: E402
from tests.support.launches import post_launch, queued_session, session_ended  # noqa: E402
from tests.support.threaded import serving_in_thread  # noqa: E402
from voicefleet.redis_conn import connect  # noqa: E402
from voicefleet.signalling import SignallingRelay, SignalMessage  # noqa: E402

PIECES = {
    "zygote imports": re.compile(r"runner zygote ready: imports ([\d.]+)s"),
    "zygote models": re.compile(r"runner zygote ready: .*models ([\d.]+)s"),
    "slot fork -> ready": re.compile(r"ready ([\d.]+)s after its fork"),
}
MOMENTS = ("ready", "answer", "audio")


@contextlib.asynccontextmanager
async def started(
    argv: list[str], cwd: Path, env: dict[str, str], ready: str
) -> AsyncIterator[tuple[asyncio.Future[float], list[str]]]:
    """The process, its ready line's time (perf_counter) once it comes, and what it logged."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    seen: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    lines: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace")
            lines.append(line)
            if ready in line and not seen.done():
                seen.set_result(time.perf_counter())
        if not seen.done():
            seen.set_exception(RuntimeError(f"{argv} exited:\n{''.join(lines[-20:])}"))

    reading = asyncio.create_task(read())
    try:
        yield seen, lines
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await reading


async def pod_start(
    tree: Path, env: dict[str, str], redis_url: str, shim_url: str, session: dict[str, str]
) -> tuple[dict[str, float], str]:
    port = free_port()
    redis = connect(redis_url)
    begun = time.perf_counter()
    argv = [sys.executable, "-m", "runner"]
    async with started(argv, tree, {**env, "PORT": str(port)}, READY_LINE) as (ready, lines):
        ready_at = await asyncio.wait_for(ready, 300)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            launch = await queued_session(redis)
            session["id"] = launch.session_id
            held = asyncio.create_task(post_launch(http, "/", launch))
            async with WebRTCCall(shim_url, direct=True) as call:
                await call.wait_for_audio(60)
                rec = call.recording
                assert rec.answer_at is not None and rec.first_audio_at is not None
                times = {
                    "ready": ready_at - begun,
                    "answer": rec.answer_at - begun - rec.client_setup_s,
                    "audio": rec.first_audio_at - begun - rec.client_setup_s,
                }
            await SignallingRelay(redis).send(
                launch.session_id, SignalMessage(kind="end", payload={"reason": "bye"})
            )
            session_ended(await asyncio.wait_for(held, 30))
    await redis.aclose()
    return times, messages("".join(lines))


async def pipecat_start() -> dict[str, float]:
    """Pipecat's one-process server, called as it listens."""
    port = free_port()
    argv = [sys.executable, "benchmarks/baseline_bot.py", "-t", "webrtc", "--port", str(port)]
    begun = time.perf_counter()
    env = {"LOGURU_LEVEL": "INFO"}
    async with started(argv, ROOT, env, "Uvicorn running") as (ready, _):
        while True:
            if ready.done() and ready.exception() is not None:
                raise ready.exception()  # type: ignore[misc]
            try:
                async with WebRTCCall(f"http://127.0.0.1:{port}") as call:
                    await call.wait_for_audio(60)
                    rec = call.recording
                    assert rec.answer_at is not None and rec.first_audio_at is not None
                    return {
                        "ready": await ready - begun,
                        "answer": rec.answer_at - begun - rec.client_setup_s,
                        "audio": rec.first_audio_at - begun - rec.client_setup_s,
                    }
            except httpx.ConnectError:
                await asyncio.sleep(0.02)


def messages(log: str) -> str:
    out = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            line = json.loads(line).get("message", line)
        out.append(line)
    return "\n".join(out)


def summary(name: str, values: list[float], peer: list[float] | None = None) -> str:
    line = (
        f"{name:<34} p50 {statistics.median(values) * 1000:7.0f} ms  "
        f"p95 {pct(values, 0.95) * 1000:7.0f} ms"
    )
    if peer:
        line += (
            f"  (x{statistics.median(values) / statistics.median(peer):.2f} p50, "
            f"x{pct(values, 0.95) / pct(peer, 0.95):.2f} p95)"
        )
    return f"{line}  (n={len(values)})"


async def measure(args: argparse.Namespace, env: dict[str, str], redis_url: str) -> None:
    session: dict[str, str] = {}
    trees = {"runner pod": ROOT}
    if args.vs_tree:
        trees["other pod"] = args.vs_tree.resolve()
    names = ["pipecat", *trees]
    times: dict[str, dict[str, list[float]]] = {n: {m: [] for m in MOMENTS} for n in names}
    pieces: dict[str, dict[str, list[float]]] = {t: {p: [] for p in PIECES} for t in trees}
    with serving_in_thread(offer_shim(redis_url, session)) as shim_url:
        for i in range(args.runs + 1):  # the first round warms the page cache, not counted
            for which in names[i % len(names) :] + names[: i % len(names)]:
                if which == "pipecat":
                    got = await pipecat_start()
                else:
                    got, log = await pod_start(trees[which], env, redis_url, shim_url, session)
                    for name, pattern in PIECES.items():
                        found = pattern.search(log)
                        if found and i:
                            pieces[which][name].append(float(found.group(1)))
                if i:
                    for moment in MOMENTS:
                        times[which][moment].append(got[moment])
            if i:
                print(
                    f"round {i}, answered: "
                    + ", ".join(f"{n} {times[n]['answer'][-1]:.2f} s" for n in names),
                    flush=True,
                )
    print()
    for moment in MOMENTS:
        print(summary(f"pipecat fresh process -> {moment}", times["pipecat"][moment]))
        for tree in trees:
            print(summary(f"{tree} -> {moment}", times[tree][moment], times["pipecat"][moment]))
    for tree in trees:
        print(f"{tree}'s pieces:")
        for name, values in pieces[tree].items():
            if values:
                print(summary(f"  {name}", values))
    print()
    for tree in trees:
        ratios = [
            p / b for p, b in zip(times[tree]["answer"], times["pipecat"]["answer"], strict=True)
        ]
        print(
            f"{tree} vs a fresh Pipecat process, first launch answered: "
            f"x{statistics.median(ratios):.2f} (median of the rounds' ratios; aim <= 1)"
        )
    if args.vs_tree:
        ours, theirs = times["runner pod"]["answer"], times["other pod"]["answer"]
        ratios = [p / o for p, o in zip(ours, theirs, strict=True)]
        print(f"runner pod vs other pod, first launch answered: x{statistics.median(ratios):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--providers", action="store_true")
    parser.add_argument("--vs-tree", type=Path, help="another checkout's pod, alternated")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
    env = {
        "REDIS_URL": redis_url,
        "RUNNER_HOST": "127.0.0.1",
        "RUNNER_SLOTS": "1",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "LOGURU_LEVEL": "INFO",
    }
    with contextlib.ExitStack() as services:
        if args.providers:
            port = free_port()
            argv = [sys.executable, "-m", "harness.providers", "--port", str(port)]
            services.enter_context(process(argv, PROVIDERS_READY))
            env.update(provider_env(port))
        asyncio.run(measure(args, env, redis_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
