"""A fresh runner pod's start, piece by piece, beside a fresh Pipecat process's start.

    .venv/bin/python benchmarks/pod_start.py [--runs 5] [--providers]

Each round starts `python -m runner` (the image's pod, one slot) and Pipecat's own dev runner
(`benchmarks/baseline_bot.py`, SmallWebRTC, a canned tone), in turn, and times process start →
ready (the pod's ready line: its slot has loaded and can take a launch; Pipecat's "Uvicorn
running"). From the pod's log it takes the pieces: the zygote's imports and its models, the
slot's fork → ready (what cannot cross a fork: Whisper, the runner's server and Redis client),
and the pod's own start. `--providers` configures the production providers (Deepgram STT and
OpenAI's LLM and TTS, local stand-ins speaking their wire protocols) instead of the offline
ones, so the pod imports and loads only those.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import pct, process  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from harness.providers.__main__ import READY_LINE as PROVIDERS_READY  # noqa: E402
from harness.providers.server import bot_env as provider_env  # noqa: E402
from runner.child_process import READY_LINE  # noqa: E402

PIECES = {
    "zygote imports": re.compile(r"runner zygote ready: imports ([\d.]+)s"),
    "zygote models": re.compile(r"runner zygote ready: .*models ([\d.]+)s"),
    "slot fork -> ready": re.compile(r"ready ([\d.]+)s after its fork"),
}


def timed_start(argv: list[str], ready: str, env: dict[str, str]) -> tuple[float, str]:
    """Seconds from process start to its ready line, and what it logged."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if ready in line:
                return time.perf_counter() - started, "".join(lines)
        raise RuntimeError(f"{argv} exited before it was ready:\n{''.join(lines[-20:])}")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def messages(log: str) -> str:
    out = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            line = json.loads(line).get("message", line)
        out.append(line)
    return "\n".join(out)


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<30} p50 {statistics.median(values) * 1000:7.0f} ms  "
        f"p95 {pct(values, 0.95) * 1000:7.0f} ms  (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--providers", action="store_true")
    args = parser.parse_args()
    env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
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
        pods: list[float] = []
        baseline: list[float] = []
        pieces: dict[str, list[float]] = {name: [] for name in PIECES}
        for i in range(args.runs):
            order = ["pod", "pipecat"] if i % 2 == 0 else ["pipecat", "pod"]
            for which in order:
                if which == "pod":
                    pod_env = {**env, "PORT": str(free_port())}
                    seconds, log = timed_start(
                        [sys.executable, "-m", "runner"], READY_LINE, pod_env
                    )
                    pods.append(seconds)
                    text = messages(log)
                    for name, pattern in PIECES.items():
                        found = pattern.search(text)
                        if found:
                            pieces[name].append(float(found.group(1)))
                else:
                    argv = [sys.executable, "benchmarks/baseline_bot.py", "-t", "webrtc"]
                    argv += ["--port", str(free_port())]
                    seconds, _ = timed_start(argv, "Uvicorn running", {"LOGURU_LEVEL": "INFO"})
                    baseline.append(seconds)
            print(f"round {i + 1}: pod {pods[-1]:.2f} s, pipecat {baseline[-1]:.2f} s", flush=True)
    print()
    print(summary("pipecat fresh process -> ready", baseline))
    print(summary("runner pod -> ready", pods))
    for name, values in pieces.items():
        if values:
            print(summary(f"  {name}", values))
    ratio = statistics.median(pods) / statistics.median(baseline)
    print(f"\nrunner pod vs a fresh Pipecat process: x{ratio:.2f} (p50; aim <= 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
