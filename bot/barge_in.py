"""The bot holds its voice at the first frame of the user's speech, before the VAD has decided.

Pipecat interrupts the bot once the VAD has heard its start window of speech (0.2 s, after
the volume gate has let the speech in): until then the bot talks on over the user, and that
window is most of what a caller hears as the bot not listening. The hold pauses the bot's
audio the moment the VAD hears a first frame of speech (its "starting" state). If the VAD
goes on to call it speech, the held chunk is dropped with the rest of the answer, which
Pipecat's interruption drains from the queue (it lets the chunk being written finish, which
here would be the held one, played late); if it was a cough or a click, the bot goes on
where it paused, at most `longest_s` later, having lost nothing.

It pauses the output transport's writes, which are paced at the speed of the call (one
40 ms chunk is in flight at a time), so the pause is heard within a chunk. The cost is a
short gap in the bot's speech for each noise the VAD starts on and then rejects: a room
whose noise passes the VAD's volume gate gets a bot that stutters, which is why it is a
setting (`BOT_BARGE_IN_HOLD_S`).
"""

from __future__ import annotations

import asyncio

from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.transports.base_output import BaseOutputTransport

from voicefleet.observability.metrics import BARGE_IN_HOLDS


class SpeechOnsetHold:
    """A VAD listener (bot/vad.py) that pauses one session's output transport."""

    def __init__(self, *, longest_s: float) -> None:
        self._longest_s = longest_s
        self._open = asyncio.Event()
        self._open.set()
        self._let_go_later: asyncio.TimerHandle | None = None
        self._speech = False  # the VAD called the held sound speech: an interruption follows

    @property
    def holding(self) -> bool:
        return not self._open.is_set()

    def on_vad_state(self, previous: VADState, state: VADState) -> None:
        if previous == VADState.QUIET and state == VADState.STARTING:
            self._hold()
        elif previous == VADState.STARTING and state == VADState.SPEAKING:
            # The hold stays while Pipecat's interruption drains the answer; if the bot
            # cannot be interrupted just now, `longest_s` lets it go on.
            self._speech = True
            BARGE_IN_HOLDS.labels("speech").inc()
        elif state == VADState.QUIET:  # it was not speech, or the speech is over
            if previous == VADState.STARTING:
                BARGE_IN_HOLDS.labels("not_speech").inc()
            self._let_go()

    def _hold(self) -> None:
        self._speech = False
        self._open.clear()
        if self._let_go_later is not None:
            self._let_go_later.cancel()
        self._let_go_later = asyncio.get_running_loop().call_later(self._longest_s, self._let_go)

    def _let_go(self) -> None:
        if self._let_go_later is not None:
            self._let_go_later.cancel()
            self._let_go_later = None
        self._open.set()

    def pause(self, output: BaseOutputTransport) -> None:
        """Make `output` wait for the hold before each write to its peer.

        Both transports we run (SmallWebRTC, Daily) write through this one method.
        """
        write = output.write_audio_frame

        async def write_when_not_held(frame: OutputAudioRawFrame) -> bool:
            if self.holding:
                await self._open.wait()
                if self._speech and frame.interruptible:
                    return False  # interrupted: not written, so not passed on either
            return await write(frame)

        output.write_audio_frame = write_when_not_held  # type: ignore[method-assign]
