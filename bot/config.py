"""The bot's configuration: defaults from the runner's environment, overrides per session.

A session's `body` (from the client, through the launch event) may only choose among the
options below; anything else is refused, and no secret is ever taken from it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from voicefleet.contracts import DailyDialIn, DailyDialOut, SessionOverrides


class BotSettings(BaseSettings):
    """Process-wide defaults, read once by the runner at start-up."""

    model_config = SettingsConfigDict(env_prefix="BOT_", extra="ignore")

    greeting: str = "Hello! I'm your voicefleet assistant. How can I help you today?"
    system_prompt: str = (
        "You are a friendly voice assistant. Your answers are spoken aloud, so keep them short: "
        "one or two sentences, no lists, no markdown."
    )
    audio_out_sample_rate: int = 24000

    # LLM: OpenAI, or any OpenAI-compatible server (a local llama.cpp server offline).
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", validation_alias="OPENAI_MODEL")
    # Sampling temperature; none: the server's default. 0 makes replies repeatable, which a
    # benchmark comparing two stacks needs (benchmarks/turn_latency.py).
    llm_temperature: float | None = Field(default=None, ge=0, le=2)

    # STT. auto: Deepgram when its key is set, else offline Whisper; whisper: faster-whisper
    # with the bundled tiny.en model; moonshine: Moonshine tiny-en from moonshine-voice's wheel.
    stt_provider: Literal["auto", "whisper", "moonshine"] = "auto"
    deepgram_api_key: str | None = Field(default=None, validation_alias="DEEPGRAM_API_KEY")
    deepgram_base_url: str | None = Field(default=None, validation_alias="DEEPGRAM_BASE_URL")
    whisper_model_path: str | None = None
    # Greedy decoding without timestamps (bot/stt/whisper.py): a tenth faster, but more word
    # errors than Pipecat's beam search on benchmarks/stt_accuracy.py, so off by default.
    whisper_fast: bool = False
    whisper_cpu_threads: int = 0  # 0: CTranslate2 uses every core
    # Start transcribing when the user pauses, not after the VAD's stop window (stt/early.py);
    # Whisper and Moonshine alike.
    # Opt-in: fewer benchmark runs behind it than the defaults (README, Benchmarks).
    whisper_early: bool = False

    # Turns (bot/turn.py): smart-turn v3 over a short VAD stop, or a fixed silence without it.
    smart_turn: bool = True
    vad_stop_s: float = 0.2
    # Silence more before a turn ends on an unsure "complete" (p < turn.SURE); 0: none.
    smart_turn_unsure_hold_s: float = 0.4
    vad_start_s: float = 0.2  # speech this long starts a turn, and interrupts the bot
    vad_volume_smoothing: float = 0.2  # per 32 ms frame, Pipecat's; 0.5 reacts sooner (vad.py)
    # Pause the bot's voice at the first frame of the user's speech, for at most this long
    # while the VAD decides (bot/barge_in.py); 0: off, the bot talks on until interrupted.
    barge_in_hold_s: float = 0.0

    # TTS. auto: OpenAI's speech API when OPENAI_API_KEY is set for OpenAI itself (no
    # OPENAI_BASE_URL, which points at an LLM server), else Piper (offline).
    tts_provider: Literal["auto", "piper", "openai"] = "auto"
    piper_voice: str = "en_US-joe-medium"
    openai_tts_voice: str = "alloy"
    openai_tts_model: str = "gpt-4o-mini-tts"
    # Speak a reply's first clause before its sentence is done (bot/tts/first_clause.py).
    tts_first_clause: bool = True

    enable_metrics: bool = True
    timezone: str = "UTC"

    # Daily's REST API, for phone calls through Daily rooms (dial-in forwarding, dial-out).
    daily_api_key: str | None = Field(default=None, validation_alias="DAILY_API_KEY")
    daily_api_url: str = Field(default="https://api.daily.co/v1", validation_alias="DAILY_API_URL")

    # Mesh, the user's data. The runner's service token acts for each session's tenant/user.
    mesh_url: str | None = Field(default=None, validation_alias="MESH_URL")
    mesh_token: str | None = Field(default=None, validation_alias="MESH_TOKEN")

    # Pacing: a gentle prompt after this much silence, goodbye after the longer one.
    idle_prompt_s: float = 20.0
    idle_end_s: float = 60.0
    idle_prompt: str = "Are you still there? I'm here if you need anything."
    goodbye: str = "It seems you've stepped away. Goodbye for now!"
    admin_goodbye: str = "I have to go now. Goodbye!"
    max_duration_goodbye: str = "We've reached the time limit for this call. Goodbye!"


class SessionConfig(BaseModel):
    session_id: str
    tenant: str
    greeting: str
    system_prompt: str
    user_id: str = "default"
    user_name: str | None = None
    # A phone call through the session's Daily room (contracts.DailyDialIn / DailyDialOut).
    dialin: DailyDialIn | None = None
    dialout: DailyDialOut | None = None

    @classmethod
    def build(
        cls, settings: BotSettings, *, session_id: str, tenant: str, body: dict[str, object]
    ) -> SessionConfig:
        overrides = SessionOverrides.model_validate(body)
        return cls(
            session_id=session_id,
            tenant=tenant,
            greeting=overrides.greeting or settings.greeting,
            system_prompt=settings.system_prompt,
            user_id=overrides.user_id,
            user_name=overrides.user_name,
            dialin=overrides.dialin,
            dialout=overrides.dialout,
        )
