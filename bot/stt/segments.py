"""What a segmented STT tells the turn's stop strategy: that it marks each segment done, and
when it has done with one.

A segmented STT (Whisper) transcribes each stretch of speech after the VAD stops, one
stretch at a time, and a stretch may yield no transcript at all (a breath, a cough). The
stop strategy counts the VAD's stops itself; this frame, pushed after each stretch's
transcript (or in place of one), tells it when the last stretch is in, so a turn never
ends on the text of an earlier stretch while a later one is still being decoded. The STT
says it sends these in its start-up metadata, so the strategy never waits for a frame from
an STT that does not (a streaming STT such as Deepgram).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import DataFrame, STTMetadataFrame


@dataclass
class SegmentTranscribedFrame(DataFrame):
    """One VAD segment is transcribed. A data frame, so it stays behind the segment's
    transcript on the way down the pipeline."""


@dataclass
class SegmentedSTTMetadataFrame(STTMetadataFrame):
    """The metadata of an STT that pushes a `SegmentTranscribedFrame` for every VAD segment."""
