"""OpenAI's speech API (or any server that implements `/v1/audio/speech`) as the TTS."""

from __future__ import annotations

from openai import AsyncOpenAI, DefaultAsyncHttpxClient, OpenAIError
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.services.tts_service import TTSService

from bot import tls
from bot.tts import TTSUnavailable

SAMPLE_RATE = 24000  # OpenAI's `pcm` format: 16-bit mono at 24 kHz


class OpenAIProvider:
    name = "openai"
    sample_rate = SAMPLE_RATE

    def __init__(self, *, api_key: str, base_url: str | None, voice: str, model: str) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._voice = voice
        self._model = model
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url)

    async def synthesize(self, text: str) -> bytes:
        try:
            response = await self._client.audio.speech.create(
                input=text, model=self._model, voice=self._voice, response_format="pcm"
            )
        except OpenAIError as exc:
            raise TTSUnavailable(f"OpenAI speech failed: {type(exc).__name__}") from exc
        return response.content

    def service(self) -> TTSService:
        return OpenAITTSService(
            api_key=self._api_key,
            base_url=self._base_url,
            sample_rate=SAMPLE_RATE,
            settings=OpenAITTSService.Settings(voice=self._voice, model=self._model),
            # A client per call; the shared TLS context keeps that cheap (bot/tls.py).
            http_client=DefaultAsyncHttpxClient(verify=tls.openai_context()),
        )
