"""`python -m runner`: a runner pod (the default), one slot of a pod, or an auto-start runner.

The pod spawns its zygote (runner/zygote.py) before it imports anything else, even its own
settings (pydantic: a fifth of a second), so that the zygote's imports and models, the
longest part of a fresh pod's start, begin at once; the pod imports only what routing
launches needs, and answers /healthz while the zygote loads. A slot and an auto-start runner
are the bot.
"""

from __future__ import annotations

import asyncio
import os
import sys

from voicefleet import event_loop

# pydantic's spellings of false (RunnerSettings parses the same variables later).
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _env(name: str) -> str:
    """A variable as pydantic-settings reads it: the name in any case."""
    return next((v for k, v in os.environ.items() if k.upper() == name), "").strip()


def _is_pod() -> bool:
    return _env("RUNNER_AUTO_START").lower() in {"", *_FALSE} and not _env("RUNNER_SLOT_SOCKET")


def main() -> int:
    event_loop.install()
    if _is_pod():
        return asyncio.run(pod(zygote=_env("RUNNER_ZYGOTE").lower() not in _FALSE))
    from bot.config import BotSettings
    from runner import standby
    from runner.settings import RunnerSettings

    settings = RunnerSettings()
    if settings.auto_start:
        return asyncio.run(standby.auto_start(settings, BotSettings()))
    asyncio.run(standby.standby(settings, BotSettings()))
    return 0


async def pod(*, zygote: bool) -> int:
    """The zygote is spawned first, so that its imports and models (most of a pod's start)
    load while this process imports what it serves with."""
    from runner.forks import Zygote

    spawned: Zygote | None = None
    if zygote:
        spawned = Zygote({})
        await spawned.spawn()
    from runner.pod import serve_pod
    from runner.settings import RunnerSettings

    settings = RunnerSettings()
    if spawned is not None and not settings.zygote:  # a spelling only pydantic reads as false
        await spawned.stop()
        spawned = None
    return await serve_pod(settings, spawned)


if __name__ == "__main__":
    sys.exit(main())
