"""Baseline for the launch benchmark: Pipecat's own single-process SmallWebRTC dev runner.

`python benchmarks/baseline_bot.py -t webrtc --port 7860` serves Pipecat's `/start` and
`/sessions/{id}/api/offer`; the bot plays a canned tone as soon as the client connects.
"""

from __future__ import annotations

import numpy as np
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.runner.types import RunnerArguments
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner

RATE = 24000
_t = np.arange(RATE) / RATE
TONE = (np.sin(2 * np.pi * 440 * _t) * 8000).astype(np.int16).tobytes()


async def bot(runner_args: RunnerArguments) -> None:
    transport = SmallWebRTCTransport(
        webrtc_connection=runner_args.webrtc_connection,  # type: ignore[attr-defined]
        params=TransportParams(audio_out_enabled=True, audio_out_sample_rate=RATE),
    )
    worker = PipelineWorker(
        Pipeline([transport.input(), transport.output()]),
        params=PipelineParams(audio_out_sample_rate=RATE),
        idle_timeout_secs=None,
    )

    @transport.event_handler("on_client_connected")
    async def on_connected(_transport: object, _client: object) -> None:
        await worker.queue_frames([OutputAudioRawFrame(TONE, RATE, 1)])

    @transport.event_handler("on_client_disconnected")
    async def on_disconnected(_transport: object, _client: object) -> None:
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


if __name__ == "__main__":
    from pipecat.runner.run import main

    main()
