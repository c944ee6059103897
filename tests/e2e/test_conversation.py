"""The bot listens, thinks and answers: speech in, transcript to the LLM, speech out."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.fake_openai import FakeOpenAI, Reply
from harness.speech import make_wav, words
from harness.stack import RunningStack
from harness.webrtc import WebRTCCall
from tests.e2e.test_launch_path import wait_status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def question(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_wav("What can you do?", tmp_path_factory.mktemp("speech") / "question.wav")


async def test_spoken_question_reaches_the_llm_and_the_answer_is_heard(
    stack: RunningStack, fake_llm: FakeOpenAI, question: Path
) -> None:
    fake_llm.script.append(Reply(text="I can take notes for you and answer your questions."))
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        await call.wait_for_silence(0.8)  # let the greeting finish
        said_at = await call.say(question)
        answer_delay = await call.wait_for_audio_after(said_at, 30)
    heard = [words(t) for t in fake_llm.user_texts()]
    assert any("what can you do" in text for text in heard), heard
    assert answer_delay < 30
    system = fake_llm.requests[0]["messages"][0]
    assert system["role"] == "system" and "voice assistant" in system["content"]
    ended = await wait_status(stack, call.session_id or "", "ended", "failed")
    assert (ended["status"], ended["reason"]) == ("ended", "client left")
