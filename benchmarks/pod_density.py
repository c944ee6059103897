"""Memory per call in one runner pod: PSS of the pod's processes while it holds N calls.

    .venv/bin/python benchmarks/pod_density.py [--calls 1 2 4]

For each N it starts the dev stack with one pod of N slots (`voicefleet dev --warm 1 --max 1
--slots N`: the image's pod, its parent, its zygote and N slot processes forked from it),
connects N WebRTC callers at once, waits until each has heard its greeting and holds the calls
a few seconds, then sums the proportional set size (PSS, /proc/*/smaps_rollup) of the pod's
processes while the calls are live: PSS divides each shared page among the processes sharing
it, so the sum is what the pod costs. The figure to read is each call past the first:
(total(N) - total(1)) / (N - 1). Beside it, the same N calls on N pods of one slot each
(`--slots 1 --warm N`: one call per pod, what the manifests shipped before pods held K calls).
The LLM is not reached (a greeting needs none), so no local LLM server is started.

`--providers` configures the production providers instead of the offline ones: Deepgram's
streaming STT and OpenAI's TTS (and LLM), each a local stand-in speaking its wire protocol
(harness/providers/), so that no slot loads Whisper or Piper.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import API_KEY, dev_stack, process  # noqa: E402
from devstack.memory import children_of, memory_of  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from harness.providers.__main__ import READY_LINE as PROVIDERS_READY  # noqa: E402
from harness.providers.server import bot_env as provider_env  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402

HOLD_S = 3.0


def pod_tree(stack_pid: int) -> list[int]:
    """Every process of every runner pod the stack runs (pod → zygote → slots)."""
    found: list[int] = []
    frontier = [
        pid
        for pid in children_of(stack_pid)
        if b"-m\x00runner\x00" in Path(f"/proc/{pid}/cmdline").read_bytes() + b"\x00"
    ]
    while frontier:
        found += frontier
        frontier = [child for pid in frontier for child in children_of(pid)]
    return found


def total_mb(pids: list[int]) -> float:
    return sum(memory_of(pid).pss_kb for pid in pids) / 1024


async def hold_calls(url: str, n: int, stack_pid: int) -> float:
    """PSS of the pods while n calls are live and greeted."""
    calls = [WebRTCCall(url, api_key=API_KEY) for _ in range(n)]
    await asyncio.gather(*(c.connect() for c in calls))
    try:
        await asyncio.gather(*(c.wait_for_audio(60) for c in calls))
        await asyncio.sleep(HOLD_S)
        return total_mb(pod_tree(stack_pid))
    finally:
        await asyncio.gather(*(c.close() for c in calls))


def measure(n: int, packed: bool, providers: dict[str, str]) -> dict[str, float]:
    port = free_port()
    if packed:
        options = ["--warm", "1", "--max", "1", "--slots", str(n)]
    else:
        options = ["--warm", str(n), "--max", str(n), "--slots", "1"]
    env = {
        "VOICEFLEET_API_KEY": API_KEY,
        "LOGURU_LEVEL": "WARNING",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        **providers,
    }
    with process(dev_stack(port, *options), "dev stack is up", env=env) as proc:
        time.sleep(2.0)
        idle = total_mb(pod_tree(proc.pid))
        live = asyncio.run(hold_calls(f"http://127.0.0.1:{port}", n, proc.pid))
    return {"idle": idle, "live": live}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--no-peer", action="store_true", help="skip N pods of one slot")
    parser.add_argument(
        "--providers", action="store_true", help="Deepgram and OpenAI stand-ins (production)"
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as services:
        providers: dict[str, str] = {}
        if args.providers:
            port = free_port()
            argv = [sys.executable, "-m", "harness.providers", "--port", str(port), "--paced"]
            services.enter_context(process(argv, PROVIDERS_READY))
            providers = provider_env(port)
        return run(args, providers)


def run(args: argparse.Namespace, providers: dict[str, str]) -> int:
    layouts = [True] if args.no_peer else [True, False]
    results: dict[tuple[bool, int], dict[str, float]] = {}
    for n in args.calls:
        for packed in layouts:
            if not packed and n == 1 and (True, 1) in results:
                results[(False, 1)] = results[(True, 1)]  # one pod of one slot either way
                continue
            results[(packed, n)] = measure(n, packed, providers)
            print(f"packed={packed} N={n}: {results[(packed, n)]}", flush=True)
    first = args.calls[0]
    print(f"\n{'layout':<28}{'N':>3}{'PSS idle MB':>13}{'N calls live':>14}{'per extra call':>16}")
    for (packed, n), row in sorted(results.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        base = results.get((packed, first))
        extra = "-"
        if base and n > first:
            extra = f"{(row['live'] - base['live']) / (n - first):.0f} MB"
        name = "one pod of N slots" if packed else "N pods of one slot"
        print(f"{name:<28}{n:>3}{row['idle']:13.0f}{row['live']:14.0f}{extra:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
