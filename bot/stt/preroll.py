"""The audio a segmented STT keeps from before the user started speaking, measured on the
audio's own clock rather than on how far the STT has read.

Pipecat's `SegmentedSTTService` keeps the last second of audio it took in until a
`VADUserStartedSpeakingFrame` reaches it, and the segment grows from there. The VAD runs
further down the pipeline (in the user aggregator) and sends that frame back up, so by
then the STT has also taken in all the audio queued between the two. Audio that arrives in
bursts (a phone call's media relayed through Redis, a loaded host) puts the STT more than a
second ahead of the VAD, and the segment then begins after the first words: "to note call
budget" for "Create a note called budget".

Here the STT keeps up to `HISTORY_S` while nobody speaks and counts the audio it takes in;
the session's VAD (bot/vad.py) notes where in the same stream it first heard the speech,
and at the start of speech the STT keeps `PRE_ROLL_S` before that point, however far ahead
of the VAD it has read.
"""

from __future__ import annotations

from pipecat.frames.frames import InputAudioRawFrame, VADUserStartedSpeakingFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import SegmentedSTTService

from bot.vad import PauseAwareVAD

PRE_ROLL_S = 1.0  # what Pipecat keeps before speech, here before the VAD's first speech
HISTORY_S = 5.0  # how far the STT may read ahead of the VAD and still keep the start


class AudioTimedPreRoll(SegmentedSTTService):
    """A segmented STT whose segment starts `PRE_ROLL_S` before the speech the VAD heard.
    Without a VAD to read the speech's start from, it keeps Pipecat's last second."""

    _speech_clock: PauseAwareVAD | None = None
    _heard_bytes = 0  # audio taken in this session, 16-bit mono at the service's rate

    def keep_pre_roll_by(self, vad: PauseAwareVAD | None) -> None:
        self._speech_clock = vad

    def _bytes_per_s(self) -> int:
        return self.sample_rate * 2

    async def process_audio_frame(
        self, frame: InputAudioRawFrame, direction: FrameDirection
    ) -> None:
        self._heard_bytes += len(frame.audio)
        if self._speech_clock is not None:  # Pipecat trims to this while nobody speaks
            self._audio_buffer_size_1s = int(HISTORY_S * self._bytes_per_s())
        await super().process_audio_frame(frame, direction)

    def pre_roll_bytes(self) -> int:
        """How much of the buffer to keep now that the user has started speaking: from
        `PRE_ROLL_S` before the VAD's first speech, or Pipecat's last second."""
        per_s = self._bytes_per_s()
        onset_s = self._speech_clock.onset_s if self._speech_clock is not None else None
        if onset_s is None:
            return int(PRE_ROLL_S * per_s)
        ahead = max(0, self._heard_bytes - int(onset_s * per_s))  # read past the onset
        keep = ahead + int(PRE_ROLL_S * per_s)
        return keep - keep % 2  # whole samples

    async def _handle_user_started_speaking(self, frame: VADUserStartedSpeakingFrame) -> None:
        keep = self.pre_roll_bytes()
        if len(self._audio_buffer) > keep:
            self._audio_buffer = self._audio_buffer[len(self._audio_buffer) - keep :]
        await super()._handle_user_started_speaking(frame)
