"""A preloaded parent that forks runners: a new runner is a fork, not a Python start.

    python -m runner.zygote CONTROL_FD

It imports everything a runner runs, loads the fork-safe models once (`load_models`: the
Piper voice, smart turn, Silero, the greeting audio), freezes the heap and then waits on its
control socket. Each request carries a runner's environment and, as ancillary data, the
write end of a pipe to become the runner's stdout and stderr; the zygote forks, the child
becomes `python -m runner` in standby over the shared models, and the parent answers with
the child's pid. Children share the zygote's imported code and model weights page for page
until they write to them, so a runner past the first costs a fraction of a full process.

Fork safety: the zygote never runs an event loop, and forks only from its main thread with
no other Python thread alive; the native threads it has then are the ones importing its
libraries started (onnxruntime's one idle housekeeping thread; BLAS and OpenMP are held to
one thread, so none of theirs), checked before every fork, and the models it loads start
none (ONNX sessions run in-line). What does start threads (faster-whisper's CTranslate2
workers) or opens sockets (Redis, HTTP clients, the runner's own server) is made in the
child, after the fork. The child closes the control socket and exits with `os._exit`, so
no parent state is torn down twice.
"""

from __future__ import annotations

import os

# Before numpy is imported: BLAS and OpenMP would otherwise start a pool of threads, which
# must not exist when the zygote forks.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import asyncio  # noqa: E402
import contextlib  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from voicefleet.parent_death import end_with  # noqa: E402

READY_LINE = "VOICEFLEET_ZYGOTE_READY"
# `EXIT_LINE pid code`: a runner it forked has exited (code as os.waitstatus_to_exitcode).
EXIT_LINE = "VOICEFLEET_ZYGOTE_EXIT"
_MAX_REQUEST = 1 << 20


class ForkUnsafe(RuntimeError):
    """The zygote is in a state a fork would copy wrongly (a thread, a running loop)."""


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


_PR_SET_NAME = 15

# Everything a runner imports on its way to serving a call, so that no child imports it; the
# providers' own modules are added by configuration (`preloaded_modules`).
PRELOADED_MODULES = (
    "aiortc",
    "uvicorn",
    "uvloop",
    "pipecat.transports.smallwebrtc.connection",
    "pipecat.transports.smallwebrtc.request_handler",
    "pipecat.transports.smallwebrtc.transport",
    "bot.bot",
    "bot.transports",
    "runner.standby",
    "runner.session",
    # What the modules above import only once a call runs: the slot's server at its first
    # request, the call's DTLS and SRTP, its tools, the LLM client's first request (HTTP
    # connection pools, the chat resources, streaming). Found by comparing a forked runner's
    # sys.modules after a call with the zygote's; left to the child, each slot's first call
    # would import them (about 0.15 s of CPU).
    "anyio._backends._asyncio",
    "uvicorn.lifespan.off",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "cryptography.hazmat.backends.openssl",
    "cryptography.hazmat.primitives.ciphers",
    "cryptography.hazmat.primitives.serialization",
    "certifi",
    "truststore",
    "httpcore",
    "httpcore2",
    "h2.connection",
    "jiter",
    "numpy.fft",
    "openai.resources.chat.chat",
    "openai.lib.streaming.chat",
    "bot.interface_events",
    "bot.actions.notes",
    "bot.actions.profile",
)


def preloaded_modules(settings: Any) -> tuple[str, ...]:
    """What a session of the configured providers imports: only the STT chosen (no
    faster-whisper or CTranslate2 with Deepgram), OpenAI's TTS only when chosen; a pod never
    pays for a provider it does not use (`python -X importtime` prices each)."""
    from bot.stt.selection import stt_choice
    from bot.toolbox import TOOL_MODULES
    from bot.tts.selection import uses_piper

    stt = {
        # The SDK's listen client and its websockets, which it imports at its first socket.
        "deepgram": ("bot.stt.deepgram", "deepgram.listen.client", "websockets.legacy.client"),
        "whisper": ("faster_whisper", "bot.stt.whisper"),
        "moonshine": ("bot.stt.moonshine",),
    }[stt_choice(settings)]
    tts = () if uses_piper(settings) else ("bot.tts.openai", "openai.resources.audio.audio")
    return (*PRELOADED_MODULES, *TOOL_MODULES, *stt, *tts)


def preload_imports(modules: tuple[str, ...] = PRELOADED_MODULES) -> None:
    for name in modules:
        importlib.import_module(name)


def check_fork_safe(allowed_native_threads: int) -> None:
    if threading.active_count() != 1:
        names = [t.name for t in threading.enumerate()]
        raise ForkUnsafe(f"Python threads alive before a fork: {names}")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ForkUnsafe("an event loop is running")
    if native_threads() > allowed_native_threads:
        raise ForkUnsafe(
            f"{native_threads()} native threads, {allowed_native_threads} expected: a model "
            "started a thread pool"
        )


def _name_process(name: str) -> None:
    """Show the runner's name in ps and top (and /proc/PID/comm): a forked runner's command
    line and environment are the zygote's, so nothing else there tells them apart."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the name is a convenience


def _child(
    control: socket.socket, out_fd: int, env: dict[str, str], models: Any, zygote_pid: int
) -> None:
    """Become a standby runner; never returns."""
    code = 1
    try:
        control.close()
        os.setsid()  # Ctrl-C in a terminal reaches the dev stack, which drains the runners
        end_with(zygote_pid)  # and the kernel ends us with the zygote (which ends with the stack)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        os.environ.clear()
        os.environ.update(env)
        _name_process(env.get("RUNNER_ID", "runner"))
        from bot.config import BotSettings
        from runner.settings import RunnerSettings
        from runner.standby import standby
        from voicefleet import event_loop

        event_loop.install()
        asyncio.run(standby(RunnerSettings(), BotSettings(), models))
        code = 0
    except BaseException as exc:  # noqa: BLE001 - a child must never return into the zygote
        print(f"runner failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


_forked: set[int] = set()


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _forked.discard(pid)
        print(f"{EXIT_LINE} {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


def serve(control: socket.socket, models: Any, allowed_native_threads: int) -> None:
    """Fork a runner per request until the control socket closes."""
    control.settimeout(0.2)  # wake to reap exited runners (and report how they ended)
    while True:
        _reap()
        try:
            data, fds, _flags, _addr = socket.recv_fds(control, _MAX_REQUEST, 1)
        except TimeoutError:
            continue
        if not data:
            return  # the pool went away
        request = json.loads(data)
        (out_fd,) = fds
        sys.stdout.flush()  # a buffer left unflushed would be written again by the child
        sys.stderr.flush()
        try:
            check_fork_safe(allowed_native_threads)
        except ForkUnsafe as exc:
            os.close(out_fd)
            control.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            continue
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            _child(control, out_fd, request["env"], models, zygote_pid)
        _forked.add(pid)
        os.close(out_fd)
        control.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def main() -> int:
    control = socket.socket(fileno=int(sys.argv[1]))
    started = time.perf_counter()
    # No cyclic collection while loading: imports make objects by the hundred thousand (every
    # pydantic model of the SDKs), little of it garbage, and collecting as they go cost about
    # 7% of the imports' CPU (whole-process medians); one collection before the freeze below.
    gc.disable()
    from voicefleet import observability

    # The runners' log format, before Pipecat's import logs; no tracing here (its exporter
    # thread must not cross a fork): each runner starts its own after the fork.
    observability.setup("runner", traces=False)
    from bot.config import BotSettings

    settings = BotSettings()
    preload_imports(preloaded_modules(settings))
    imported = time.perf_counter()
    allowed = native_threads()
    from bot.preload import load_models

    models = load_models(settings)
    # The calls' TLS contexts too (bot/tls.py: the CA bundles, memory only), so that no slot
    # makes its own before it is ready, and they share these pages.
    from bot import tls

    tls.warm()
    gc.collect()
    gc.freeze()  # objects made so far stay out of the children's collections: pages stay shared
    gc.enable()
    check_fork_safe(allowed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the dev stack stops us after its runners
    print(
        f"{READY_LINE} imports {imported - started:.2f}s, models "
        f"{time.perf_counter() - imported:.2f}s, {allowed} native thread(s), pid {os.getpid()}",
        flush=True,
    )
    try:
        serve(control, models, allowed)
    finally:
        # The pod stops its runners before us; any still here outlived a pod that was killed,
        # and nobody holds their launches any more.
        for pid in list(_forked):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        _reap()
    return 0


if __name__ == "__main__":
    sys.exit(main())
