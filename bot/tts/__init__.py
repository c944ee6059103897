"""Text-to-speech providers, chosen by configuration.

Each provider does two jobs: render a fixed text ahead of time (the greeting, in standby) and
make the Pipecat TTS service the pipeline speaks through. Piper is the offline default;
OpenAI's speech API is the cloud provider, used when its key is configured.
"""

from __future__ import annotations

from typing import Protocol

from pipecat.services.tts_service import TTSService


class TTSProvider(Protocol):
    name: str
    sample_rate: int

    async def synthesize(self, text: str) -> bytes:
        """The whole utterance as 16-bit mono PCM at `sample_rate`."""
        ...

    def service(self) -> TTSService:
        """A fresh Pipecat TTS service for one session's pipeline."""
        ...


class TTSUnavailable(RuntimeError):
    """The configured provider cannot be used (a missing package or key)."""
