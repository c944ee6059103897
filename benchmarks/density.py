"""Memory per runner: proportional set size (PSS, /proc/*/smaps_rollup) of the dev pool.

    .venv/bin/python benchmarks/density.py [--sizes 1 4 8]

For each pool size N it starts the dev stack with N warm runners, forked from the zygote
(and, for reference, N started as their own processes, `--no-zygote`), and sums the PSS of
the runners and of the zygote: PSS divides each shared page among the processes sharing it,
so the sum is what the pool really costs. It measures the idle pool, then again after every
runner has served one call (a session dirties pages the fork had shared). The figure to read
is the cost of each runner past the first: (total(N) - total(1)) / (N - 1).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import API_KEY, dev_stack, process  # noqa: E402
from devstack.memory import children_of, memory_of  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402


def pool_pids(stack_pid: int) -> tuple[list[int], list[int]]:
    """(zygote, runners) among the stack's descendants."""
    zygotes, runners = [], []
    for child in children_of(stack_pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"runner.zygote" in cmdline:
            zygotes.append(child)
            runners += children_of(child)
        elif b"-m\x00runner" in cmdline:
            runners.append(child)
    return zygotes, runners


def total_mb(pids: list[int]) -> float:
    return sum(memory_of(pid).pss_kb for pid in pids) / 1024


async def call_every_runner(url: str, n: int) -> None:
    calls = [WebRTCCall(url, api_key=API_KEY) for _ in range(n)]
    await asyncio.gather(*(c.connect() for c in calls))
    try:
        await asyncio.gather(*(c.wait_for_audio(60) for c in calls))
        await asyncio.sleep(1.0)
    finally:
        await asyncio.gather(*(c.close() for c in calls))
    await asyncio.sleep(2.0)  # sessions end, runners are ready again


def measure(n: int, zygote: bool) -> dict[str, float]:
    port = free_port()
    options = ["--warm", str(n), "--max", str(n)] + ([] if zygote else ["--no-zygote"])
    env = {"VOICEFLEET_API_KEY": API_KEY, "LOGURU_LEVEL": "WARNING"}
    with process(dev_stack(port, *options), "dev stack is up", env=env) as proc:
        time.sleep(2.0)
        zygotes, runners = pool_pids(proc.pid)
        assert len(runners) == n, (n, runners)
        idle = total_mb(zygotes + runners)
        asyncio.run(call_every_runner(f"http://127.0.0.1:{port}", n))
        zygotes, runners = pool_pids(proc.pid)
        used = total_mb(zygotes + runners)
        zygote_mb = total_mb(zygotes)
    return {"idle": idle, "used": used, "zygote": zygote_mb}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument(
        "--pools",
        nargs="+",
        choices=["zygote", "plain"],
        default=["zygote", "plain"],
        help="runners forked from the zygote, and/or started as their own processes",
    )
    args = parser.parse_args()
    results: dict[tuple[bool, int], dict[str, float]] = {}
    for zygote in [pool == "zygote" for pool in args.pools]:
        for n in args.sizes:
            results[(zygote, n)] = measure(n, zygote)
            print(f"zygote={zygote} N={n}: {results[(zygote, n)]}", flush=True)
    print(f"\n{'pool':<26}{'N':>3}{'PSS idle MB':>13}{'after a call':>14}{'per extra runner':>18}")
    for (zygote, n), row in results.items():
        first = results.get((zygote, args.sizes[0]))
        extra = "-"
        if first and n > args.sizes[0]:
            per = (row["used"] - first["used"]) / (n - args.sizes[0])
            extra = f"{per:.0f} MB"
        name = "forked from the zygote" if zygote else "own processes"
        print(f"{name:<26}{n:>3}{row['idle']:13.0f}{row['used']:14.0f}{extra:>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
