"""One runner process: standby (serve launches, one session at a time: a pod's slot) or
auto-start (run RUNNER_SESSION, then exit). `python -m runner` picks the mode."""

from __future__ import annotations

import asyncio

from voicefleet import observability

# Before Pipecat is imported: its import logs a banner, which must already be in our format.
# Logs only: a zygote imports this before it forks, and traces start a thread (see standby).
observability.setup("runner", traces=False)

import uvicorn  # noqa: E402
from loguru import logger  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from bot.config import BotSettings  # noqa: E402
from bot.preload import Models, preload  # noqa: E402
from runner.child_process import READY_LINE  # noqa: E402
from runner.service import RunnerService, create_app  # noqa: E402
from runner.settings import RunnerSettings  # noqa: E402
from voicefleet.contracts import LaunchPayload  # noqa: E402


class DrainingServer(uvicorn.Server):
    """Uvicorn stops accepting on SIGTERM and waits for in-flight requests; we also turn
    not-ready and refuse launches at once, so no new one starts while the session drains."""

    def __init__(self, config: uvicorn.Config, service: RunnerService) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: object) -> None:
        if not self.service.draining:
            logger.info("signal {}: draining (session: {})", sig, self.service.current)
        self.service.draining = True
        super().handle_exit(sig, frame)  # type: ignore[arg-type]


async def standby(
    settings: RunnerSettings, bot_settings: BotSettings, models: Models | None = None
) -> None:
    """Serve launches; `models` are a zygote's, already loaded (else they load here)."""
    # This process's own environment (a zygote's child has just been given it), and traces.
    reporting = observability.setup("runner", reread=True)
    service = RunnerService(settings, bot_settings)
    config = uvicorn.Config(
        create_app(service, metrics_token=reporting.metrics_token),
        host=settings.host,
        port=settings.port,
        uds=settings.slot_socket,  # a pod's slot: only the pod reaches it
        log_level="warning",
        log_config=None,  # uvicorn's lines go through our log format (voicefleet.observability)
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
        lifespan="off",
    )
    server = DrainingServer(config, service)
    if service.spool_sender is not None:
        service.spool_sender.start()  # what an earlier runner on this volume left, and ours
    # Bound before serving, so that "ready" below is true as soon as it is printed: the
    # kernel queues connections on a listening socket until the server's loop accepts them.
    sock = config.bind_socket()
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    service.preloaded = await preload(bot_settings, models)
    where = f"socket={settings.slot_socket}" if settings.slot_socket else f"port={settings.port}"
    print(f"{READY_LINE} {where}", flush=True)
    logger.info("runner {} ready ({})", settings.runner_id, where)
    await serving
    await service.aclose()


async def auto_start(settings: RunnerSettings, bot_settings: BotSettings) -> int:
    observability.setup("runner")  # traces, now that this process will not fork
    if not settings.session:
        logger.error("RUNNER_AUTO_START=1 needs RUNNER_SESSION (a launch payload as JSON)")
        return 2
    try:
        launch = LaunchPayload.model_validate_json(settings.session)
    except ValidationError as exc:
        logger.error("RUNNER_SESSION is not a valid launch payload: {}", exc)
        return 2
    service = RunnerService(settings, bot_settings)
    if service.spool_sender is not None:
        service.spool_sender.start()
    service.preloaded = await preload(bot_settings)
    result = await service.run_launch(launch)
    await service.aclose()
    print(result.model_dump_json() if hasattr(result, "model_dump_json") else result, flush=True)
    return 0 if getattr(result, "status", "failed") != "failed" else 1
