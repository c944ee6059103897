"""What one runner pod of one slot costs, for sizing pods: PSS in standby and during a call,
and CPU, summed over the pod's processes (its parent, zygote and slot).

    .venv/bin/python benchmarks/runner_footprint.py [--turns 3]

Starts the dev stack with one warm runner (offline providers; the LLM is the tests' scripted
stand-in, so only the runner's own work is measured), reads the runner process's PSS from
/proc (shared pages split between the processes that map them, the figure that adds up across
pods on a node), then holds a WebRTC call of a few spoken turns and samples its peak PSS and
its CPU time. The production overlay's requests and limits come from these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.fake_openai import FakeOpenAIServer  # noqa: E402
from harness.speech import make_wav  # noqa: E402
from harness.stack import children, start_stack, stop_stack  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402


def _tree(pid: int) -> list[int]:
    """The pod and its processes (its zygote and the slots forked from it)."""
    return [pid, *children(pid)]


def pss_mb(pid: int) -> float:
    total = 0.0
    for each in _tree(pid):
        with contextlib.suppress(OSError):  # a process that has just exited
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
    return total


def cpu_s(pid: int) -> float:
    total = 0.0
    for each in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def runner_pids(root: int) -> list[int]:
    found = []
    for pid in children(root):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:3] == [b"-m", b"runner"]:
            found.append(pid)
    return found


async def main(turns: int) -> None:
    fake = FakeOpenAIServer().start()
    os.environ.update({"OPENAI_BASE_URL": fake.url, "OPENAI_MODEL": "fake"})
    stack = start_stack("--warm", "1", "--max", "1", env={"LOG_LEVEL": "WARNING"})
    try:
        (pid,) = runner_pids(stack.process.pid)
        await asyncio.sleep(2)
        standby = pss_mb(pid)
        question = make_wav(
            "What can you do? Tell me about your features.", Path(tempfile.mkdtemp()) / "q.wav"
        )
        cpu0, t0, peak = cpu_s(pid), time.monotonic(), standby
        async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
            await call.wait_for_audio(10)
            await call.wait_for_silence(0.8)
            for _ in range(turns):
                await call.say(question)
                for _ in range(60):
                    await asyncio.sleep(0.1)
                    peak = max(peak, pss_mb(pid))
        cores = (cpu_s(pid) - cpu0) / (time.monotonic() - t0)
        print(f"runner PSS: standby {standby:.0f} MB, peak in a call {peak:.0f} MB")
        print(f"runner CPU during the call: {cores:.2f} cores on average over {turns} turns")
    finally:
        stop_stack(stack)
        fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=3)
    asyncio.run(main(parser.parse_args().turns))
