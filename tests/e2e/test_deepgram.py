"""A WebRTC call with the production providers: Deepgram's streaming STT, OpenAI's LLM and
OpenAI's TTS, each a local server speaking its wire protocol (harness/providers/), reached by
the real SDK clients through DEEPGRAM_BASE_URL and OPENAI_BASE_URL. The Deepgram stand-in
recognizes the speech (Whisper tiny.en), so a lost stretch of audio shows in the transcript.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.providers.deepgram import Stream, WhisperTranscriber
from harness.providers.openai import Reply
from harness.providers.server import DEEPGRAM_KEY, OPENAI_KEY, ProviderServer
from harness.speech import make_wav, words
from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def providers() -> Iterator[ProviderServer]:
    server = ProviderServer(WhisperTranscriber()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deepgram_stack(providers: ProviderServer) -> Iterator[RunningStack]:
    env = {**providers.bot_env, "BOT_GREETING": "Hello there."}  # a short wait before each test
    running = start_stack("--warm", "1", "--max", "1", env=env)
    yield running
    stop_stack_cleanly(running)
    output = "".join(running.output)
    assert DEEPGRAM_KEY not in output and OPENAI_KEY not in output


def user_transcriptions(call: WebRTCCall) -> list[dict[str, Any]]:
    return [
        m["data"]
        for m in call.recording.messages
        if isinstance(m, dict) and m.get("type") == "user-transcription"
    ]


def transcript(message: dict[str, Any]) -> str:
    return str(message["channel"]["alternatives"][0]["transcript"])


def streams_since(providers: ProviderServer, seen: int) -> list[Stream]:
    return providers.deepgram.streams[seen:]


async def test_interim_then_final_transcripts_and_an_endpointed_turn(
    deepgram_stack: RunningStack, providers: ProviderServer, tmp_path: Path
) -> None:
    question = make_wav("What can you do for me today?", tmp_path / "question.wav")
    providers.openai.script.append(Reply(text="I can take notes and answer questions."))
    seen = len(providers.deepgram.streams)
    async with WebRTCCall(deepgram_stack.url, api_key=deepgram_stack.api_key) as call:
        await call.wait_for_audio(30)  # the greeting, rendered by the TTS stand-in in standby
        await call.wait_for_silence(0.8, 20)
        said_at = await call.say(question)
        await call.wait_for_audio_after(said_at, 30)  # nothing but silence ended the turn
        assert await call.wait_for_text("take notes", 20)
    shown = user_transcriptions(call)
    interims = [words(d["text"]) for d in shown if not d.get("final")]
    finals = [words(d["text"]) for d in shown if d.get("final")]
    # One final, or a few if the network's hiccups cut the sentence: together, the sentence.
    assert " ".join(finals) == "what can you do for me today", shown
    assert interims and len(interims[0]) < len(finals[0]), shown  # heard while it was said
    assert any("what can you do for me today" in words(t) for t in providers.openai.user_texts())
    (stream,) = streams_since(providers, seen)
    assert stream.params["interim_results"] == "true" and stream.params["encoding"] == "linear16"
    last = [m for m in stream.messages if m["is_final"] and transcript(m)][-1]
    assert last["speech_final"] or last.get("from_finalize")  # silence ended the utterance
    assert providers.openai.speech_requests[-1]["input"].startswith("I can take notes")


async def test_a_socket_dropped_mid_sentence_loses_nothing_of_the_turn(
    deepgram_stack: RunningStack, providers: ProviderServer, tmp_path: Path
) -> None:
    sentence = "Could you tell me about the weather in Paris tomorrow?"
    question = make_wav(sentence, tmp_path / "weather.wav")
    providers.openai.script.append(Reply(text="Tomorrow looks sunny in Paris."))
    seen = len(providers.deepgram.streams)
    async with WebRTCCall(deepgram_stack.url, api_key=deepgram_stack.api_key) as call:
        await call.wait_for_audio(30)
        await call.wait_for_silence(0.8, 20)
        providers.deepgram.drop_next(after_speech_s=1.0)  # mid-way through the sentence
        said_at = await call.say(question)
        await call.wait_for_audio_after(said_at, 30)
        assert await call.wait_for_text("sunny", 20)
    streams = streams_since(providers, seen)
    assert [s.closed for s in streams][:1] == ["dropped"] and len(streams) == 2
    heard = [words(t) for t in providers.openai.user_texts()]
    assert any("weather in paris tomorrow" in t and "tell me about" in t for t in heard), heard
    finals = [words(d["text"]) for d in user_transcriptions(call) if d.get("final")]
    assert "tell me about the weather in paris tomorrow" in " ".join(finals), finals
