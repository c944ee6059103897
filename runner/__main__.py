"""`python -m runner`: a runner pod (the default), one slot of a pod, or an auto-start runner.

The pod imports only what routing launches needs, so that it answers /healthz at once while
its zygote (runner/zygote.py) loads the bot; a slot and an auto-start runner are the bot.
"""

from __future__ import annotations

import asyncio
import sys

from runner.settings import RunnerSettings
from voicefleet import event_loop


def main() -> int:
    settings = RunnerSettings()
    event_loop.install()
    if settings.auto_start or settings.slot_socket:
        from bot.config import BotSettings
        from runner import standby

        if settings.auto_start:
            return asyncio.run(standby.auto_start(settings, BotSettings()))
        asyncio.run(standby.standby(settings, BotSettings()))
        return 0
    return asyncio.run(pod(settings))


async def pod(settings: RunnerSettings) -> int:
    """The zygote is spawned first, so that its imports and models (most of a pod's start)
    load while this process imports what it serves with."""
    from runner.forks import Zygote

    zygote: Zygote | None = None
    if settings.zygote:
        zygote = Zygote({})
        await zygote.spawn()
    from runner.pod import serve_pod

    return await serve_pod(settings, zygote)


if __name__ == "__main__":
    sys.exit(main())
