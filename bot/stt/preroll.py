"""Segments cut where the VAD heard them, on the audio's own clock (samples), not where the
STT happens to have read to.

Pipecat's `SegmentedSTTService` keeps the last second of audio until a
`VADUserStartedSpeakingFrame` reaches it, grows the segment from there, and hands over
everything it holds when the `VADUserStoppedSpeakingFrame` comes. The VAD runs further down
the pipeline (in the user aggregator) and sends those frames back up, so by then the STT has
also read all the audio queued between the two. Audio that arrives in bursts (a phone call's
media relayed through Redis, a loaded host) puts the STT seconds ahead of the VAD: the
segment begins after the first words ("to note call budget" for "Create a note called
budget"), and ends inside the next stretch of a paused sentence.

Here the STT counts the samples it takes in and keeps up to `HISTORY_S` while nobody speaks;
the session's VAD (bot/vad.py) notes, in the same count, where it said each stretch started
and stopped. A segment starts `PRE_ROLL_S` before the VAD's start, as Pipecat's does when the
STT keeps pace, but never before the end of the previous segment (audio already transcribed
is not heard twice: a paused sentence's second half would begin with the first half's last
words), and ends at the VAD's stop; what the STT read past that stays for the next segment.
A VAD frame without a mark (Pipecat's idle stop) falls back to Pipecat's cut.

Whisper tiny.en is touchy about where a segment starts: keeping 1 s before the speech's
first sound instead (about 0.3 s more) turned the paused sentence's "Could you tell me about"
into "... the bow" in tests/e2e/test_turns.py, so the pre-roll stays Pipecat's, only counted
in samples.
"""

from __future__ import annotations

import sys

from pipecat.frames.frames import (
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import SegmentedSTTService

from bot.vad import PauseAwareVAD, SpeechMark

PRE_ROLL_S = 1.0  # what Pipecat keeps before the VAD's start
HISTORY_S = 5.0  # how far the STT may read ahead of the VAD and still keep the start


class AudioClockSegments(SegmentedSTTService):
    """A segmented STT that cuts its segments at the VAD's sample counts. Without a VAD to
    read them from (`keep_clock_by(None)`), it is Pipecat's."""

    _clock: PauseAwareVAD | None = None
    _taken = 0  # samples taken in this session; the buffer ends here
    _floor = 0  # where the last segment ended: the next one starts no earlier

    def keep_clock_by(self, vad: PauseAwareVAD | None) -> None:
        self._clock = vad

    def _buffer_start(self) -> int:
        return self._taken - len(self._audio_buffer) // 2

    def _next_mark(self, kind: str) -> SpeechMark | None:
        """The VAD's mark for the frame that just arrived. A start drops stop marks that no
        frame took (after an idle stop); a stop without its mark at the head takes none."""
        marks = self._clock.marks if self._clock is not None else None
        if not marks:
            return None
        while kind == "start" and marks and marks[0].kind == "stop":
            marks.popleft()
        return marks.popleft() if marks and marks[0].kind == kind else None

    def _offset(self, sample: int) -> int:
        """The byte offset in the buffer of `sample`, within the buffer."""
        return 2 * min(max(sample - self._buffer_start(), 0), len(self._audio_buffer) // 2)

    def speech_until(self, sample: int) -> bytes:
        """The segment so far, up to `sample` (where the VAD is now, at a pause)."""
        return bytes(self._audio_buffer[: self._offset(sample)])

    async def process_audio_frame(
        self, frame: InputAudioRawFrame, direction: FrameDirection
    ) -> None:
        self._taken += len(frame.audio) // 2
        if self._clock is None:
            await super().process_audio_frame(frame, direction)
            return
        self._audio_buffer_size_1s = sys.maxsize  # Pipecat's trim copies the buffer; this not
        await super().process_audio_frame(frame, direction)
        excess = len(self._audio_buffer) - 2 * int(HISTORY_S * self.sample_rate)
        if not self._user_speaking and excess > 0:
            del self._audio_buffer[:excess]

    async def _handle_user_started_speaking(self, frame: VADUserStartedSpeakingFrame) -> None:
        mark = self._next_mark("start")
        if mark is not None:
            first = max(mark.sample - int(PRE_ROLL_S * self.sample_rate), self._floor)
            del self._audio_buffer[: self._offset(first)]
        elif self._clock is not None:  # Pipecat's last second, after the last segment
            keep = 2 * min(int(PRE_ROLL_S * self.sample_rate), self._taken - self._floor)
            del self._audio_buffer[: max(len(self._audio_buffer) - keep, 0)]
        await super()._handle_user_started_speaking(frame)

    async def _handle_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame) -> None:
        mark = self._next_mark("stop")
        end = self._offset(mark.sample) if mark is not None else len(self._audio_buffer)
        self._floor = self._buffer_start() + end // 2
        read_on = self._audio_buffer[end:]  # past the VAD's stop: the next segment's
        self._audio_buffer = self._audio_buffer[:end]
        await super()._handle_user_stopped_speaking(frame)  # hands over and clears the buffer
        self._audio_buffer = read_on + self._audio_buffer
