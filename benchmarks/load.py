"""N concurrent real WebRTC calls through the dev stack: where this host's knee is.

    .venv/bin/python benchmarks/load.py [--levels 1 2 4 8] [--turns 4]

For each N the dev stack runs N warm runner pods of one slot each; N Python WebRTC
callers connect at once, hear the greeting, then each says a prepared question every few
seconds (Whisper, smart turn and Piper are the real offline models; the LLM is the tests'
scripted OpenAI-compatible server, so its cost is not the host's). It reports end of speech
→ first bot audio p50/p95/p99, the runners' CPU per call (from /proc, as a share of one
core), late audio frames (more than 60 ms after the previous one; the bot sends one every
20 ms), packets lost (RTP receiver stats) and failed calls. The callers run on the same
host, so their own CPU is part of the load: it is reported beside the runners' (the callers'
per call, and how busy the whole host was: runners, callers and the stack's own process, as a
share of all its cores), so that a server without callers on it can be sized from the runners'.

    .venv/bin/python benchmarks/load.py --providers [--levels 1 4 8 16] [--turns 3]

Provider mode: the production configuration. STT is Deepgram's streaming API, the LLM and the
TTS OpenAI's, each a local stand-in speaking its wire protocol (harness/providers/, paced
like the services: interim results while speech streams and a final on silence, a first
token after 300 ms then 50 tokens a second, speech in chunks), reached by the real SDK
clients through DEEPGRAM_BASE_URL and OPENAI_BASE_URL. The N calls share one pod of N slots
(containerConcurrency N: a zygote and a process forked from it per call), as production
runs them. The
stand-ins run as a process of their own, since they stand for remote services: their CPU is
reported apart and counted in neither the pod's nor the host's figures. It adds the pod's
PSS (the pod process, its zygote and its slots: the largest sum seen while the calls run),
the cost of each call past the first, the cores the pod used, and how the turn p95 compares
with the single call of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.launch_latency import API_KEY, dev_stack, pct, process  # noqa: E402
from benchmarks.pod_density import pod_tree, total_mb  # noqa: E402
from devstack.pool import usable_cores  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from harness.fake_openai import FakeOpenAIServer  # noqa: E402
from harness.providers.__main__ import READY_LINE  # noqa: E402
from harness.providers.server import bot_env as provider_env  # noqa: E402
from harness.speech import PAD_S, make_wav  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402

LATE_S = 0.06
QUESTION = "What can you do?"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Level:
    turns: list[float] = field(default_factory=list)
    frames: int = 0
    late: int = 0
    lost: int = 0
    failed: int = 0
    cpu_s: float = 0.0
    callers_cpu_s: float = 0.0
    stack_cpu_s: float = 0.0
    providers_cpu_s: float = 0.0
    wall_s: float = 0.0
    pss_mb: float = 0.0  # the pool's largest PSS while the calls ran


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


async def caller(url: str, question: Path, turns: int, level: Level) -> None:
    try:
        async with WebRTCCall(url, api_key=API_KEY) as call:
            await call.wait_for_audio(60)
            await call.wait_for_silence(0.8, 60)
            for _ in range(turns):
                await asyncio.sleep(random.uniform(0.5, 2.0))  # "every few seconds"
                ended_at = await call.say(question) - PAD_S
                level.turns.append(await call.wait_for_audio_after(ended_at, 60))
                await call.wait_for_silence(1.0, 60)
            times = call.recording.frame_times
            level.frames += len(times)
            level.late += sum(1 for a, b in itertools.pairwise(times) if b - a > LATE_S)
            for stats in (await call.pc.getStats()).values():
                if getattr(stats, "type", "") == "inbound-rtp":
                    level.lost += int(getattr(stats, "packetsLost", 0) or 0)
    except (TimeoutError, OSError, AssertionError) as exc:
        level.failed += 1
        print(f"  call failed: {type(exc).__name__}: {exc}", flush=True)


def pod_of(slots: int, cleanup: contextlib.ExitStack) -> Path:
    """A kustomization of the repo's base whose runner pods hold `slots` calls
    (containerConcurrency; the dev pool gives its pods as many slots)."""
    folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="voicefleet-pod-")))
    base = os.path.relpath(ROOT / "knative" / "base", folder)
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {base}\npatches:\n  - path: slots.yaml\n    target:\n"
        "      kind: Service\n      name: voicefleet-runner\n"
    )
    (folder / "slots.yaml").write_text(
        f"- op: replace\n  path: /spec/template/spec/containerConcurrency\n  value: {slots}\n"
    )
    return folder


def sample_pss(pids: list[int], level: Level, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        level.pss_mb = max(level.pss_mb, total_mb(pids))


def run_level(
    n: int,
    turns: int,
    question: Path,
    bot_env: dict[str, str],
    providers_pid: int | None,
    pool: list[str],
) -> Level:
    port = free_port()
    env = {"VOICEFLEET_API_KEY": API_KEY, "LOGURU_LEVEL": "WARNING", **bot_env}
    level = Level()
    with process(dev_stack(port, *pool), "dev stack is up", env=env) as proc:
        pids = pod_tree(proc.pid)
        outside = [providers_pid] if providers_pid else []
        cpu0, stack0, wall0 = cpu_seconds(pids), cpu_seconds([proc.pid]), time.perf_counter()
        providers0 = cpu_seconds(outside)
        own0 = time.process_time()  # the callers: this process's threads
        stop = threading.Event()
        sampler = threading.Thread(target=sample_pss, args=(pids, level, stop), daemon=True)
        sampler.start()

        async def calls() -> None:
            url = f"http://127.0.0.1:{port}"
            await asyncio.gather(*(caller(url, question, turns, level) for _ in range(n)))

        try:
            asyncio.run(calls())
        finally:
            stop.set()
            sampler.join()
        level.callers_cpu_s = time.process_time() - own0
        level.stack_cpu_s = cpu_seconds([proc.pid]) - stack0
        level.providers_cpu_s = cpu_seconds(outside) - providers0
        level.cpu_s = cpu_seconds(pids) - cpu0
        level.wall_s = time.perf_counter() - wall0
    return level


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument(
        "--providers", action="store_true", help="Deepgram and OpenAI stand-ins (production)"
    )
    args = parser.parse_args()
    question = make_wav(QUESTION, Path(tempfile.mkdtemp()) / "question.wav")
    results: dict[int, Level] = {}
    with contextlib.ExitStack() as services:
        if args.providers:
            port = free_port()
            argv = [sys.executable, "-m", "harness.providers", "--port", str(port), "--paced"]
            stand_ins = services.enter_context(process([*argv, "--line", QUESTION], READY_LINE))
            bot_env, providers_pid = provider_env(port), stand_ins.pid
        else:
            llm = FakeOpenAIServer().start()
            services.callback(llm.stop)
            bot_env, providers_pid = {"OPENAI_BASE_URL": llm.url, "OPENAI_MODEL": "fake"}, None
        for n in args.levels:
            # Production: N calls in one pod of N slots; offline: N pods of one slot each.
            pool = ["--warm", str(n), "--max", str(n)]
            if args.providers:
                pool = ["--warm", "1", "--max", "1", "--knative-dir", str(pod_of(n, services))]
            results[n] = run_level(n, args.turns, question, bot_env, providers_pid, pool)
            report(results, providers=args.providers)  # so far: a run cut short still tells
    return 0


def report(results: dict[int, Level], *, providers: bool) -> None:
    cores = usable_cores()
    print(
        f"\n{'N':>3}{'turn p50':>10}{'p95':>8}{'p99':>8}{'CPU/call':>10}{'callers':>9}"
        f"{'host':>7}{'late frames':>13}{'lost pkts':>11}{'failed':>8}"
        f"   (ms; CPU per call as % of one core, host as % of its {cores} cores)"
    )
    for n, lv in results.items():
        ms = [t * 1000 for t in lv.turns] or [float("nan")]
        wall = lv.wall_s or float("nan")
        cpu, callers = 100 * lv.cpu_s / wall / n, 100 * lv.callers_cpu_s / wall / n
        host = 100 * (lv.cpu_s + lv.callers_cpu_s + lv.stack_cpu_s) / wall / cores
        late = 100 * lv.late / lv.frames if lv.frames else float("nan")
        print(
            f"{n:>3}{statistics.median(ms):10.0f}{pct(ms, 0.95):8.0f}{pct(ms, 0.99):8.0f}"
            f"{cpu:9.0f}%{callers:8.0f}%{host:6.0f}%{late:12.2f}%{lv.lost:11d}{lv.failed:>5d}/{n}"
        )
    if not providers:
        return
    first = min(results)
    base_p95 = pct([t * 1000 for t in results[first].turns], 0.95)
    base_pss = results[first].pss_mb
    print(
        f"\n{'N':>3}{'pod cores':>12}{'calls/core':>12}{'p95 / N=' + str(first):>12}"
        f"{'pod PSS':>10}{'MB/call past 1st':>18}{'stand-ins CPU':>15}"
    )
    for n, lv in results.items():
        wall = lv.wall_s or float("nan")
        used = lv.cpu_s / wall
        p95 = pct([t * 1000 for t in lv.turns], 0.95) if lv.turns else float("nan")
        extra = (lv.pss_mb - base_pss) / (n - first) if n > first else float("nan")
        print(
            f"{n:>3}{used:12.2f}{n / used:12.1f}{p95 / base_p95:12.2f}"
            f"{lv.pss_mb:9.0f}M{extra:17.1f}M{100 * lv.providers_cpu_s / wall:14.0f}%"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
