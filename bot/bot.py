"""Assembles and runs one bot session.

    transport in -> STT -> events -> user context (VAD) -> LLM -> TTS -> transport out
                                                                       -> assistant context

The only module that wires transport, providers, event bus and handlers together; the runner
calls `run_bot` with a transport built for the session and learns why the bot ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from loguru import logger
from pipecat.frames.frames import Frame, OutputAudioRawFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.workers.runner import WorkerRunner

from bot.actions.html import LLMAppletWriter
from bot.actions.prompts import load_prompts
from bot.admin_channel import AdminChannel
from bot.barge_in import SpeechOnsetHold
from bot.call_record import CallRecord, feed_call_record
from bot.config import BotSettings, SessionConfig
from bot.eventbus import EventBus, ParticipantJoined, ParticipantLeft, SessionEnding
from bot.eventbus.bridge import PipelineEvents
from bot.forwarder import EventForwarder
from bot.handlers import GreetingHandler, PacingHandler, RosterHandler
from bot.handlers.admin import AdminHandler, Refused
from bot.handlers.keypad import KeypadHandler
from bot.llm import LOCAL_API_KEY, make_llm
from bot.mesh_client import MeshClient, MeshError
from bot.preload import Preloaded, RenderedSpeech
from bot.recording import CallAudio, audio_recorder
from bot.stt.early import turn_stop_timeout
from bot.toolbox import Toolbox
from bot.tools.base import ToolContext
from bot.transports import SessionTransport
from bot.tts.first_clause import speak_first_clause_early
from bot.turn_metrics import TurnMetricsObserver, turn_latency_observer
from voicefleet.observability import tracing

_SPEECH_FRAME_MS = 200


class BotFailed(Exception):
    """The transport could not connect or broke; the message is the user-facing reason."""


@dataclass
class BotHooks:
    """How the runner hears from the bot (joined, failed, why it ended) and stops it."""

    on_joined: Callable[[], Awaitable[None]]
    # The bot's first audio left for the client (the greeting, as a rule).
    on_first_audio: Callable[[], Awaitable[None]] | None = None
    admin: AdminChannel | None = None
    # Past this the bot says goodbye and leaves (the runner stops it a little later anyway).
    max_duration_s: float | None = None
    # The runner's record of the call, fed as it goes (the session report is built from it).
    record: CallRecord | None = None
    # The call's audio, for a tenant that records calls.
    audio: CallAudio | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None
    failure: str | None = None

    def end(self, reason: str) -> None:
        """Stop the bot now (hang-up, lost lease)."""
        if not self.ended.is_set():
            self.end_reason = reason
            self.ended.set()


class _FirstAudio(BaseObserver):
    """Tells the runner when the bot's first audio reaches the output transport, which
    sends it on at once (its queue is empty at the start of a call)."""

    def __init__(self, output: FrameProcessor, callback: Callable[[], Awaitable[None]]) -> None:
        super().__init__(observe_every_push=True)  # the hop into the output transport
        self._output = output
        self._callback: Callable[[], Awaitable[None]] | None = callback

    async def on_push_frame(self, data: FramePushed) -> None:
        if (
            self._callback is not None
            and data.destination is self._output
            and isinstance(data.frame, OutputAudioRawFrame)
        ):
            callback, self._callback = self._callback, None
            await callback()


def speech_frames(speech: RenderedSpeech) -> list[Frame]:
    step = speech.sample_rate * 2 * _SPEECH_FRAME_MS // 1000
    return [
        OutputAudioRawFrame(
            audio=speech.pcm[i : i + step], sample_rate=speech.sample_rate, num_channels=1
        )
        for i in range(0, len(speech.pcm), step)
    ]


def _participant(args: tuple[Any, ...]) -> tuple[str, str | None]:
    """(id, name) from a transport event's arguments: Daily passes a participant dict,
    SmallWebRTC its connection (one client, no name)."""
    for arg in args:
        if isinstance(arg, dict) and "id" in arg:
            info = arg.get("info") or {}
            return str(arg["id"]), info.get("userName") or None
    return "client", None


def _mesh_client(settings: BotSettings, config: SessionConfig) -> MeshClient | None:
    if not (settings.mesh_url and settings.mesh_token):
        return None
    return MeshClient(
        settings.mesh_url, settings.mesh_token, tenant=config.tenant, user=config.user_id
    )


async def _load_instructions(mesh: MeshClient | None, config: SessionConfig) -> str:
    """The tenant's personality and functional prompts from Mesh over the base prompt. Loaded
    at session start and again when an operator asks (`update_prompts`); `Refused` says why
    it could not be."""
    if mesh is None:
        raise Refused("this bot has no Mesh configured to load prompts from")
    try:
        prompts = await load_prompts(mesh)
    except MeshError as exc:
        raise Refused(f"prompts could not be loaded from Mesh: {exc}") from exc
    return prompts.system_instruction(config.system_prompt)


async def _end_at_cap(after_s: float, events: PipelineEvents, goodbye: str) -> None:
    await asyncio.sleep(after_s)
    await events.say(goodbye)
    await events.end("maximum session duration reached")


class _BotCall:
    """One session's parts, built by `run_bot` in named steps: the toolbox, the pipeline, the
    handlers, the transport events; then it runs. State the steps share (the event bus, the
    worker, background tasks) lives here instead of in closures."""

    def __init__(
        self,
        session: SessionTransport,
        preloaded: Preloaded,
        config: SessionConfig,
        hooks: BotHooks,
    ) -> None:
        self.session = session
        self.preloaded = preloaded
        self.settings = preloaded.settings
        self.config = config
        self.hooks = hooks
        self.bus = EventBus()
        self.events = PipelineEvents(self.bus, on_end=self._on_end)
        self.mesh = _mesh_client(self.settings, config)
        self.worker: PipelineWorker | None = None
        self.background: list[asyncio.Task[None]] = []
        self._joined = False

    async def _on_end(self, reason: str, now: bool) -> None:
        self.hooks.end_reason = self.hooks.end_reason or reason
        await self.bus.publish(SessionEnding(reason=reason))
        if now and self.worker is not None:
            await self.worker.cancel(reason=reason)

    async def _end_call(self, reason: str) -> None:
        await self.events.say("Goodbye!")
        await self.events.end(reason)

    async def _load_instructions(self) -> str:
        return await _load_instructions(self.mesh, self.config)

    async def system_instruction(self) -> str:
        """The instruction the call starts with; without the tenant's prompts the call goes
        on with the base prompt."""
        if self.mesh is None:
            return self.config.system_prompt
        try:
            return await self._load_instructions()
        except Refused as exc:
            logger.warning("session {}: {}", self.config.session_id, exc)
            return self.config.system_prompt

    def build_toolbox(self) -> Toolbox:
        settings = self.settings
        return Toolbox(
            ToolContext(
                tenant=self.config.tenant,
                user=self.config.user_id,
                forwarder=EventForwarder(self.session.kind, self.events.push),
                mesh=self.mesh,
                applet_writer=LLMAppletWriter(
                    api_key=settings.openai_api_key or LOCAL_API_KEY,
                    base_url=settings.openai_base_url,
                    model=settings.openai_model,
                ),
                end_call=self._end_call,
                timezone=settings.timezone,
            ),
            bus=self.bus,
        )

    def build_pipeline(self, toolbox: Toolbox, system_instruction: str) -> PipelineWorker:
        settings, preloaded, transport = self.settings, self.preloaded, self.session.transport
        llm = make_llm(settings, system_instruction=system_instruction)
        toolbox.register(llm)
        context = LLMContext(tools=toolbox.schema())
        vad = preloaded.vad.take()
        stt = preloaded.stt(vad)
        aggregators = LLMContextAggregatorPair(
            context,
            user_params=LLMUserAggregatorParams(
                vad_analyzer=vad,
                user_turn_strategies=preloaded.turns.strategies(),
                user_turn_stop_timeout=turn_stop_timeout(stt),
            ),
        )
        output = transport.output()
        if settings.barge_in_hold_s > 0:
            hold = SpeechOnsetHold(longest_s=settings.barge_in_hold_s)
            vad.add_listener(hold)
            hold.pause(cast(BaseOutputTransport, output))  # what both transports' output() is
        tts = preloaded.tts.service()
        if settings.tts_first_clause:
            speak_first_clause_early(tts)
        pipeline = Pipeline(
            [
                transport.input(),
                stt,
                self.events,
                aggregators.user(),
                llm,
                tts,
                output,
                *([audio_recorder(self.hooks.audio)] if self.hooks.audio else []),
                aggregators.assistant(),
            ]
        )
        on_first_audio, record = self.hooks.on_first_audio, self.hooks.record
        self.worker = PipelineWorker(
            pipeline,
            params=PipelineParams(
                audio_out_sample_rate=settings.audio_out_sample_rate,
                enable_metrics=settings.enable_metrics,  # per-stage TTFB, sent to clients over RTVI
                enable_usage_metrics=record is not None,  # tokens, characters, audio seconds
            ),
            idle_timeout_secs=None,
            observers=[
                TurnMetricsObserver(),
                turn_latency_observer(record.answered if record else None),
                *([feed_call_record(record, self.bus, aggregators)] if record else []),
                *([_FirstAudio(output, on_first_audio)] if on_first_audio else []),
            ],
            # Pipecat's conversation and turn spans, children of the runner's session span.
            enable_tracing=tracing.enabled(),
            conversation_id=self.config.session_id,
        )
        return self.worker

    def attach_handlers(self) -> tuple[PacingHandler, AdminHandler]:
        settings, config, events = self.settings, self.config, self.events
        greeting = self.preloaded.greeting
        prerendered = speech_frames(greeting) if config.greeting == greeting.text else None
        pacing = PacingHandler(
            events,
            prompt_after_s=settings.idle_prompt_s,
            end_after_s=settings.idle_end_s,
            prompt=settings.idle_prompt,
            goodbye=settings.goodbye,
        )
        for handler in (
            RosterHandler(events),
            GreetingHandler(
                events,
                greeting=config.greeting,
                prerendered=prerendered,
                user_name=config.user_name,
            ),
            pacing,
            KeypadHandler(events),
        ):
            handler.attach(self.bus)
        admin = AdminHandler(
            events,
            self.bus,
            load_instructions=self._load_instructions,
            goodbye=settings.admin_goodbye,
        )
        if self.hooks.max_duration_s is not None:
            self.background.append(
                asyncio.create_task(
                    _end_at_cap(self.hooks.max_duration_s, events, settings.max_duration_goodbye)
                )
            )
        return pacing, admin

    def attach_transport_events(self, pacing: PacingHandler, admin: AdminHandler) -> None:
        async def participant_joined(*args: Any) -> None:
            participant_id, name = _participant(args)
            await self.bus.publish(ParticipantJoined(participant_id=participant_id, name=name))
            if not self._joined:
                self._joined = True
                pacing.start()
                if self.hooks.admin is not None:  # messages wait in the queue until someone is here
                    self.background.append(asyncio.create_task(self.hooks.admin.run(admin.handle)))
                await self.hooks.on_joined()

        async def participant_left(*args: Any) -> None:
            participant_id, _ = _participant(args)
            await self.bus.publish(ParticipantLeft(participant_id=participant_id))

        async def transport_error(_transport: Any, error: Any) -> None:
            self.hooks.failure = str(error)
            logger.warning("session {}: transport error: {}", self.config.session_id, error)
            await self._cancel("transport error")

        session = self.session
        for names, handler_fn in (
            (session.joined_events, participant_joined),
            (session.left_events, participant_left),
            (session.error_events, transport_error),
        ):
            for name in names:
                session.transport.add_event_handler(name, handler_fn)

    async def _cancel(self, reason: str) -> None:
        if self.worker is not None:
            await self.worker.cancel(reason=reason)

    async def _stop_when_ended(self) -> None:
        await self.hooks.ended.wait()
        await self._cancel(self.hooks.end_reason or "session ended")

    async def run(self, worker: PipelineWorker, pacing: PacingHandler) -> None:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        watcher = asyncio.create_task(self._stop_when_ended())
        try:
            await runner.run()
        finally:
            watcher.cancel()
            pacing.stop()
            for job in self.background:
                job.cancel()
            await asyncio.gather(*self.background, return_exceptions=True)
        # WorkerRunner.run() swallows a cancellation of its caller (it stops the workers and
        # returns); pass it on, or a bot cancelled by the session cap looks like one whose
        # client left.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        if self.hooks.failure:
            raise BotFailed(self.hooks.failure)


async def run_bot(
    session: SessionTransport, preloaded: Preloaded, config: SessionConfig, hooks: BotHooks
) -> None:
    """Run until the conversation ends, `hooks.ended` is set, or the task is cancelled."""
    call = _BotCall(session, preloaded, config, hooks)
    system_instruction = await call.system_instruction()
    toolbox = call.build_toolbox()
    worker = call.build_pipeline(toolbox, system_instruction)
    pacing, admin = call.attach_handlers()
    call.attach_transport_events(pacing, admin)
    await call.run(worker, pacing)
