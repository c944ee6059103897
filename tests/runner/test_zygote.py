"""The zygote refuses to fork from a state a child would inherit wrongly."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runner import zygote
from runner.zygote import ForkUnsafe, check_fork_safe, native_threads


def test_a_live_python_thread_blocks_the_fork() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with pytest.raises(ForkUnsafe, match="threads alive"):
            check_fork_safe(native_threads())
    finally:
        stop.set()
        thread.join()


def test_a_running_loop_or_a_model_s_thread_pool_blocks_the_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This test process has helper threads of its own; the zygote has only its main one.
    monkeypatch.setattr(zygote.threading, "active_count", lambda: 1)
    check_fork_safe(native_threads())
    with pytest.raises(ForkUnsafe, match="native threads"):
        check_fork_safe(native_threads() - 1)

    async def inside_a_loop() -> None:
        check_fork_safe(native_threads())

    with pytest.raises(ForkUnsafe, match="event loop"):
        asyncio.run(inside_a_loop())
