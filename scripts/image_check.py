"""The image, proven without a container engine: `Containerfile`'s steps on a clean Debian root.

    .venv/bin/python scripts/image_check.py [--starts 5] [--keep DIR] [--record]   (as root)

1. debootstraps a minimal root of the base image's Debian release (the `-bookworm` of
   `python:3.11-slim-bookworm`) with that release's Python 3.11 in place of the image's own
   CPython build (the one step that differs from a container build);
2. runs each stage's instructions in a copy of it, as `podman build` would: RUN in a chroot
   (in a mount namespace of its own, with /proc and /dev), ENV, WORKDIR, COPY of the build
   context (the repository's files that git does not ignore) and COPY --from a stage, USER;
   pip keeps a cache between runs (the host's, mounted; the Containerfile turns it off for the
   image's sake), and so does debootstrap (/var/cache/voicefleet-image-check);
3. starts the final stage's CMD (`python -m runner`) in the final root as its USER, fresh
   `--starts` times, each time timing process start → /readyz and → one call answered (a
   launch CloudEvent, then a WebRTC offer through Redis as the gateway relays it; the answer
   and the greeting's first audio), beside Pipecat's one-process server
   (`benchmarks/baseline_bot.py`) started fresh in the same root, alternating;
4. prints the root's size and the figures, removes everything it made, and with `--record`
   writes the inputs' hash to `.ci/image-check.sha256`, which `.ci/run` compares to decide
   whether the check must run again.

Needs root, debootstrap and unshare, and the network to Debian's archive and PyPI. Redis: REDIS_URL,
or an embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from devstack.ports import free_port  # noqa: E402
from harness.fake_openai import FakeOpenAIServer  # noqa: E402
from harness.offer_shim import offer_shim  # noqa: E402
from harness.webrtc import WebRTCCall  # noqa: E402
from tests.support.launches import post_launch, queued_session, session_ended  # noqa: E402
from tests.support.threaded import serving_in_thread  # noqa: E402
from voicefleet.redis_conn import EmbeddedRedis, connect  # noqa: E402
from voicefleet.signalling import SignallingRelay, SignalMessage  # noqa: E402

INPUTS = ("Containerfile", "pyproject.toml", "constraints.txt")
RECORD = ROOT / ".ci" / "image-check.sha256"
CACHE = Path("/var/cache/voicefleet-image-check")
MIRROR = "http://deb.debian.org/debian"
# What the python:3.11-slim-<release> base adds to Debian: Python 3.11 (here Debian's), `python`,
# venv, and CA certificates.
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READY_LINE = "VOICEFLEET_RUNNER_READY"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def inputs_hash() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()


# --- the Containerfile ----------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    steps: list[tuple[str, str]] = field(default_factory=list)


def parse_containerfile(text: str) -> list[Stage]:
    """Stages and their instructions; comments dropped, continuation lines joined."""
    stages: list[Stage] = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or f"stage{len(stages)}"))
        elif not stages:
            raise SystemExit(f"Containerfile: {instruction} before FROM")
        elif instruction in ("RUN", "ENV", "WORKDIR", "COPY", "USER", "EXPOSE", "CMD"):
            stages[-1].steps.append((instruction, " ".join(rest.split())))
        else:
            raise SystemExit(f"Containerfile: {instruction} is not reproduced by this check")
    return stages


def release_of(base: str) -> str:
    match = re.fullmatch(r"python:3\.11-slim-(\w+)", base)
    if match is None:
        raise SystemExit(f"Containerfile: base {base!r} names no Debian release (…-slim-bookworm)")
    return match[1]


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], ""), value)


# --- roots -----------------------------------------------------------------------------------


def run(argv: list[str], **kwargs: object) -> None:
    print("+", " ".join(shlex.quote(a) for a in argv), flush=True)
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def in_root(
    root: Path, command: str, env: dict[str, str], cwd: str = "/", user: str | None = None
) -> list[str]:
    """argv that runs `command` with `sh -c` inside `root`: a mount namespace of its own with
    /proc and /dev, and (as pid 1 of a pid namespace) taking every process it starts with it."""
    mounts = [
        f"mount -t proc proc {root}/proc",
        f"mount --rbind /dev {root}/dev",
    ]
    pip_cache = Path.home() / ".cache" / "pip"
    if user is None:  # build steps: the caches
        pip_cache.mkdir(parents=True, exist_ok=True)
        (root / "var/cache/pip").mkdir(parents=True, exist_ok=True)
        (CACHE / "apt").mkdir(parents=True, exist_ok=True)
        mounts += [
            f"mount --bind {pip_cache} {root}/var/cache/pip",
            f"mount --bind {CACHE / 'apt'} {root}/var/cache/apt/archives",
        ]
        # The host's CA bundle, where the host reaches the registries through its own CA (as a
        # build would be given it), over the root's for the step only: nothing of it stays.
        host_ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
        if host_ca and (root / CA_BUNDLE.lstrip("/")).is_file():
            mounts.append(f"mount --bind {host_ca} {root}{CA_BUNDLE}")
            env = {**env, "PIP_CERT": CA_BUNDLE}
    userspec = f"{user}:{user}" if user and user.isdigit() else user
    chroot = ["chroot"] + ([f"--userspec={userspec}"] if userspec else []) + [str(root)]
    inner = f"cd {shlex.quote(cwd)} && {command}"
    exported = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items())]
    script = (
        " && ".join(mounts)
        + " && exec "
        + " ".join(shlex.quote(a) for a in [*chroot, *exported, "/bin/sh", "-c", inner])
    )
    return ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
            "sh", "-c", script]  # fmt: skip


def build_context() -> list[str]:
    """The files a `podman build .` of a checkout sends: what git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()  # fmt: skip
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@dataclass
class Built:
    root: Path
    env: dict[str, str]
    workdir: str
    user: str | None
    cmd: list[str]


def build_stage(stage: Stage, root: Path, stages: dict[str, Built]) -> Built:
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
    workdir, user, cmd = "/", None, ["/bin/sh"]
    for instruction, rest in stage.steps:
        print(f"--- {stage.name}: {instruction} {rest}", flush=True)
        if instruction == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = expand(value, env)
        elif instruction == "WORKDIR":
            workdir = rest
            (root / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif instruction == "USER":
            user = rest
        elif instruction == "CMD":
            cmd = [str(a) for a in json.loads(rest)]
        elif instruction == "EXPOSE":
            continue
        elif instruction == "COPY":
            copy(rest, root, workdir, stages)
        elif instruction == "RUN":
            # The image turns pip's cache off; the check keeps one between runs.
            step_env = {k: v for k, v in env.items() if k != "PIP_NO_CACHE_DIR"}
            step_env.update(PIP_CACHE_DIR="/var/cache/pip", HOME="/root")
            run(in_root(root, rest, step_env, workdir))
    return Built(root, env, workdir, user, cmd)


def copy(rest: str, root: Path, workdir: str, stages: dict[str, Built]) -> None:
    words = rest.split()
    options = {w.split("=")[0]: w.partition("=")[2] for w in words if w.startswith("--")}
    source, target = [w for w in words if not w.startswith("--")]
    destination = root / (target if target.startswith("/") else f"{workdir}/{target}").lstrip("/")
    if "--from" in options:
        built = stages[options["--from"]]
        run(["cp", "-a", f"{built.root}/{source.lstrip('/')}/.", str(destination)])
    elif source == ".":
        destination.mkdir(parents=True, exist_ok=True)
        for name in build_context():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    else:
        raise SystemExit(f"Containerfile: COPY {rest} is not reproduced by this check")
    if "--chown" in options:
        run(["chown", "-R", options["--chown"], str(destination)])


def size_mb(root: Path) -> float:
    out = subprocess.run(["du", "-sxb", str(root)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0]) / 1e6


# --- one fresh process, one call ----------------------------------------------------------------


def home_of(root: Path, user: str | None) -> str:
    """The user's home in the root's passwd, as a container runtime sets HOME."""
    for line in (root / "etc/passwd").read_text().splitlines():
        name, _, uid, _, _, home, _ = line.split(":")
        if user in (name, uid) or (user is None and uid == "0"):
            return home
    return "/"


def children_of(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@asynccontextmanager
async def process_in(
    built: Built, argv: list[str], env: dict[str, str], *, stdout: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    command = "exec " + " ".join(shlex.quote(a) for a in argv)
    env = {**built.env, "HOME": home_of(built.root, built.user), **env}
    proc = await asyncio.create_subprocess_exec(
        *in_root(built.root, command, env, built.workdir, built.user),
        stdout=asyncio.subprocess.PIPE if stdout else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            # unshare's child is the namespace's pid 1: SIGTERM drains the pod, and when it exits
            # the kernel ends every process it started.
            for child in children_of(proc.pid):
                os.kill(child, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def runner_start(
    built: Built, redis_url: str, shim_url: str, session: dict[str, str], llm_url: str
) -> dict[str, float]:
    """A fresh `python -m runner` (the image's CMD): start → ready → one call answered."""
    port = free_port()
    env = {"PORT": str(port), "RUNNER_HOST": "127.0.0.1", "REDIS_URL": redis_url,
           "RUNNER_AUTO_START": "0", "LOGURU_LEVEL": "WARNING",
           # The offline providers, and the LLM replaced at its network boundary (the greeting
           # needs none, but a runner refuses to start a bot without one configured).
           "OPENAI_BASE_URL": llm_url, "OPENAI_MODEL": "fake"}  # fmt: skip
    redis = connect(redis_url)
    started = time.perf_counter()
    async with process_in(built, built.cmd, env, stdout=True) as proc:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 180)).decode()
        if not line.startswith(READY_LINE):
            raise SystemExit(f"the runner did not start: {line!r}")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            ready_at = time.perf_counter()
            launch = await queued_session(redis)
            session["id"] = launch.session_id
            held = asyncio.create_task(post_launch(http, "/", launch))
            async with WebRTCCall(shim_url, direct=True) as call:
                await call.wait_for_audio(60)
                rec = call.recording
                assert rec.answer_at is not None and rec.first_audio_at is not None
                setup = rec.client_setup_s
                answer, audio = (
                    rec.answer_at - started - setup,
                    rec.first_audio_at - started - setup,
                )
            await SignallingRelay(redis).send(
                launch.session_id, SignalMessage(kind="end", payload={"reason": "bye"})
            )
            ended = session_ended(await asyncio.wait_for(held, 30))
            assert ended.status == "ended", ended
    await redis.aclose()
    return {"ready": ready_at - started, "answer": answer, "audio": audio}


async def pipecat_start(built: Built) -> dict[str, float]:
    """Pipecat's one-process server started fresh in the same root, called as it listens."""
    port = free_port()
    argv = ["python", "benchmarks/baseline_bot.py", "-t", "webrtc", "--port", str(port)]
    started = time.perf_counter()
    async with process_in(built, argv, {"LOGURU_LEVEL": "WARNING"}) as proc:
        while True:
            if proc.returncode is not None:
                raise SystemExit(f"Pipecat's server exited ({proc.returncode})")
            try:
                async with WebRTCCall(f"http://localhost:{port}") as call:
                    await call.wait_for_audio(60)
                    rec = call.recording
                    assert rec.answer_at is not None and rec.first_audio_at is not None
                    setup = rec.client_setup_s
                    answer = rec.answer_at - started - setup
                    return {
                        "answer": answer,
                        "audio": rec.first_audio_at - started - setup,
                    }
            except httpx.ConnectError:
                await asyncio.sleep(0.02)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(built: Built, starts: int, redis_url: str) -> None:
    session: dict[str, str] = {}
    rows: dict[str, list[dict[str, float]]] = {
        "pipecat one-process server": [],
        "voicefleet runner pod": [],
    }
    llm = FakeOpenAIServer().start()
    with serving_in_thread(offer_shim(redis_url, session)) as shim_url:
        for _ in range(starts):  # alternating, so machine noise falls on both
            rows["pipecat one-process server"].append(await pipecat_start(built))
            rows["voicefleet runner pod"].append(
                await runner_start(built, redis_url, shim_url, session, llm.url)
            )
    llm.stop()
    base = rows["pipecat one-process server"]
    print(f"\nfresh process starts in the image root, {starts} each (seconds, p50 / p95):")
    for name, results in rows.items():
        cells = []
        for key in ("ready", "answer", "audio"):
            if key not in results[0]:
                continue  # Pipecat's server has no readiness apart from answering
            values = [r[key] for r in results]
            cell = f"{key} {statistics.median(values):.2f} / {pct(values, 0.95):.2f}"
            if key in base[0]:
                ratio = statistics.median(values) / statistics.median([b[key] for b in base])
                cell += f" (x{ratio:.2f})"
            cells.append(cell)
        print(f"  {name:28} " + ", ".join(cells))


@contextmanager
def redis_for_check() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    embedded = EmbeddedRedis()
    try:
        yield embedded.start()
    finally:
        embedded.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="fresh starts of each (default 5)")
    parser.add_argument("--keep", help="build in this folder and keep it")
    parser.add_argument("--record", action="store_true", help=f"write {RECORD.relative_to(ROOT)}")
    parser.add_argument(
        "--if-changed",
        action="store_true",
        help=f"do nothing when {', '.join(INPUTS)} hash to what the last check recorded",
    )
    args = parser.parse_args()
    if args.if_changed and RECORD.is_file() and RECORD.read_text().strip() == inputs_hash():
        print(f"image check: {', '.join(INPUTS)} unchanged since the recorded check")
        return 0
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        print(
            "image check: needs root and debootstrap (apt-get install debootstrap)", file=sys.stderr
        )
        return 2
    began = time.monotonic()
    stages = parse_containerfile((ROOT / "Containerfile").read_text(encoding="utf-8"))
    releases = {release_of(s.base) for s in stages}
    if len(releases) != 1:
        raise SystemExit(f"Containerfile: stages on several releases {sorted(releases)}")
    (release,) = releases
    work = (
        Path(args.keep)
        if args.keep
        else Path(tempfile.mkdtemp(prefix="image-check-", dir="/var/tmp"))
    )
    work.mkdir(parents=True, exist_ok=True)
    try:
        base = work / "base"
        (CACHE / "debs").mkdir(parents=True, exist_ok=True)
        run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
             f"--cache-dir={CACHE / 'debs'}", release, str(base), MIRROR])  # fmt: skip
        built: dict[str, Built] = {}
        for stage in stages:
            root = work / stage.name
            run(["cp", "-a", str(base), str(root)])
            for name in ("resolv.conf", "hosts"):  # what a container runtime writes
                shutil.copy2(f"/etc/{name}", root / "etc" / name)
            built[stage.name] = build_stage(stage, root, built)
        final = built[stages[-1].name]
        build_s = time.monotonic() - began
        image_mb = size_mb(final.root)
        with redis_for_check() as redis_url:
            asyncio.run(measure(final, args.starts, redis_url))
        print(f"\nimage root ({release}): {image_mb:.0f} MB; built in {build_s / 60:.1f} min, "
              f"whole check {(time.monotonic() - began) / 60:.1f} min")  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.record:
        RECORD.write_text(inputs_hash() + "\n")
        print(f"recorded {RECORD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
