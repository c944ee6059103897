"""Turns over real WebRTC: a pause mid-sentence is not the end of the turn, and the caller
can talk over a long answer (barge-in): the bot goes quiet and answers the new question,
with Pipecat's interruption alone and with the onset hold before it (bot/barge_in.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.fake_openai import FakeOpenAI, Reply
from harness.speech import PAD_S, make_wav, words
from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e

LONG_ANSWER = " ".join(
    f"This is sentence number {n} of a very long answer about knights and dragons."
    for n in range(1, 13)
)
LAST_SENTENCE = "sentence number 12"


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("speech")
    return {
        "paused": make_wav(
            "Could you tell me about", tmp / "paused.wav", then="the weather in Paris tomorrow?"
        ),
        "story": make_wav("Tell me a long story.", tmp / "story.wav"),
        "interruption": make_wav("What time is it?", tmp / "interruption.wav"),
    }


async def test_a_pause_mid_sentence_does_not_end_the_turn(
    stack: RunningStack, fake_llm: FakeOpenAI, speech: dict[str, Path]
) -> None:
    fake_llm.script.append(Reply(text="It will be sunny in Paris."))
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        await call.wait_for_silence(0.8)
        said_at = await call.say(speech["paused"])
        await call.wait_for_audio_after(said_at, 30)
        assert await call.wait_for_text("sunny", 15)
    heard = [words(t) for t in fake_llm.user_texts()]
    # One turn, both halves: the LLM never saw the first half on its own.
    turns = [t for t in heard if "tell me about" in t]
    assert len(turns) == 1 and "weather" in turns[0] and "tomorrow" in turns[0], heard


@pytest.fixture(scope="module")
def held_stack() -> Iterator[RunningStack]:
    running = start_stack("--warm", "1", "--max", "1", env={"BOT_BARGE_IN_HOLD_S": "0.3"})
    yield running
    stop_stack_cleanly(running)


@pytest.mark.parametrize("stack_name", ["stack", "held_stack"])
async def test_barge_in_the_bot_goes_quiet_and_answers_the_new_question(
    stack_name: str,
    request: pytest.FixtureRequest,
    fake_llm: FakeOpenAI,
    speech: dict[str, Path],
) -> None:
    stack: RunningStack = request.getfixturevalue(stack_name)
    fake_llm.script += [Reply(text=LONG_ANSWER), Reply(text="It is three o'clock.")]
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        await call.wait_for_silence(0.8)
        said_at = await call.say(speech["story"])
        await call.wait_for_audio_after(said_at, 30)
        assert await call.wait_for_text("sentence number 2", 20), "the long answer is under way"
        speaking_at = await call.start_saying(speech["interruption"]) + PAD_S
        assert await call.wait_for_text("three o'clock", 30), call.bot_texts()
        quiet_at = call.last_audio_before_gap(speaking_at, 0.5)
        said = call.bot_texts()
    # The bot stopped talking while the user spoke (a gap before its new answer) and never
    # finished the long answer; the LLM's last turn was the new question, answered.
    assert quiet_at is not None
    assert not any(LAST_SENTENCE in text for text in said), said
    last_user = words(fake_llm.user_texts()[-1])
    assert "what time is it" in last_user, fake_llm.user_texts()
    assert "tell me a long story" not in last_user
