"""Recordings: the call's audio, both sides mixed and each side alone, as WAV (or Ogg Opus for
a tenant that asks for it), stored in S3-compatible object storage (a local s3rver at its
network boundary, the real client code against it) and linked from the report with a
pre-signed URL that expires."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame
from pipecat.tests.utils import SleepFrame, run_test
from pydantic import ValidationError

from bot.recording import FORMATS, SAMPLE_RATE, CallAudio, audio_recorder
from harness.s3 import ACCESS_KEY, SECRET_KEY, LocalS3, local_s3
from runner.report import ReportPublisher
from runner.settings import RECORDING_FORMATS, RunnerSettings
from voicefleet.blobs import LocalBlobStore, S3BlobStore
from voicefleet.contracts import TransportKind
from voicefleet.event_sink import EventSink
from voicefleet.reports import SessionReport


@pytest.fixture(scope="module")
def s3() -> Iterator[LocalS3]:
    with local_s3() as server:
        yield server


def _tone(hz: float, seconds: float) -> bytes:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16).tobytes()


def _frames(pcm: bytes, kind: type[InputAudioRawFrame] | type[OutputAudioRawFrame]) -> list:  # type: ignore[type-arg]
    step = SAMPLE_RATE * 2 // 50  # 20 ms
    return [
        kind(audio=pcm[i : i + step], sample_rate=SAMPLE_RATE, num_channels=1)
        for i in range(0, len(pcm), step)
    ]


def _loudness(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def _recorded_call(folder: Path, form: str = "wav") -> CallAudio:
    """One second of the caller, then one second of the bot, through Pipecat's recorder."""
    audio = CallAudio(folder, form)
    await run_test(
        audio_recorder(audio),
        frames_to_send=[
            *_frames(_tone(440, 1.0), InputAudioRawFrame),
            SleepFrame(0.05),
            *_frames(_tone(880, 1.0), OutputAudioRawFrame),
            SleepFrame(0.05),
        ],
        expected_down_frames=None,
    )
    return audio


def _report() -> SessionReport:
    now = time.time()
    return SessionReport(
        session_id="rec1",
        tenant="acme",
        transport=TransportKind.WEBRTC,
        status="ended",
        started_at=now - 2,
        ended_at=now,
        duration_s=2,
    )


async def test_both_sides_are_stored_mixed_and_apart_and_linked_by_expiring_urls(
    s3: LocalS3, tmp_path: Path
) -> None:
    audio = await _recorded_call(tmp_path / "call")
    store = S3BlobStore(
        s3.bucket, endpoint_url=s3.endpoint_url, access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )
    async with httpx.AsyncClient() as http:
        publisher = ReportPublisher(
            EventSink(http, "http://127.0.0.1:9/"), "runner-1", max_event_bytes=10**6, blobs=store
        )
        recordings = await publisher.recordings(_report(), audio)
        assert {r.track for r in recordings} == {"mixed", "user", "bot"}
        assert not (tmp_path / "call").exists()  # uploaded, nothing left on the runner

        tracks: dict[str, bytes] = {}
        for recording in recordings:
            assert recording.key == f"recordings/acme/rec1/{recording.track}.wav"
            url = await store.url(recording.key, 60)
            assert url is not None and "X-Amz-Signature" in url
            got = await http.get(url)
            assert got.status_code == 200
            with wave.open(io.BytesIO(got.content)) as wav:
                assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (
                    SAMPLE_RATE, 1, 2,
                )  # fmt: skip
                tracks[recording.track] = wav.readframes(wav.getnframes())
            assert recording.duration_s == pytest.approx(len(tracks[recording.track]) / 32000)

        # Each side is heard on its own track and both on the mixed one.
        half = len(tracks["user"]) // 2
        assert _loudness(tracks["user"][:half]) > 1000 > _loudness(tracks["user"][half + 3200 :])
        assert _loudness(tracks["bot"][half + 3200 :]) > 1000 > _loudness(tracks["bot"][:half])
        assert _loudness(tracks["mixed"][:half]) > 1000 and _loudness(tracks["mixed"][half:]) > 1000

        # The link stops working once it has expired.
        short = await store.url(recordings[0].key, 1)
        assert short is not None
        await asyncio.sleep(2.1)
        assert (await http.get(short)).status_code == 403


def _decoded(data: bytes) -> tuple[int, np.ndarray]:  # type: ignore[type-arg]
    """An Ogg Opus file as a receiver would play it: its rate and its samples."""
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        return stream.rate, (np.concatenate(frames) * 32767).astype(np.int16)


async def test_a_tenant_that_asked_for_opus_gets_each_track_as_ogg_opus(tmp_path: Path) -> None:
    audio = await _recorded_call(tmp_path / "call", "opus")
    store = LocalBlobStore(tmp_path / "blobs")
    async with httpx.AsyncClient() as http:
        publisher = ReportPublisher(
            EventSink(http, "http://127.0.0.1:9/"), "runner-1", max_event_bytes=10**6, blobs=store
        )
        recordings = await publisher.recordings(_report(), audio)
    assert {(r.track, r.format) for r in recordings} == {
        ("mixed", "opus"), ("user", "opus"), ("bot", "opus"),
    }  # fmt: skip
    assert not (tmp_path / "call").exists()
    tracks: dict[str, bytes] = {}
    for recording in recordings:
        assert recording.key == f"recordings/acme/rec1/{recording.track}.opus"
        data = await store.get(recording.key)
        assert data[:4] == b"OggS" and len(data) < recording.duration_s * 32000 / 4
        rate, samples = _decoded(data)
        # As long as the call (the encoder's lead-in and padding aside), and not silent.
        assert abs(len(samples) / rate - recording.duration_s) < 0.1
        tracks[recording.track] = samples.tobytes()
    half = len(tracks["user"]) // 2
    assert _loudness(tracks["user"][:half]) > 1000 > _loudness(tracks["user"][half + 9600 :])
    assert _loudness(tracks["bot"][half + 9600 :]) > 1000 > _loudness(tracks["bot"][:half])
    assert _loudness(tracks["mixed"][:half]) > 1000 and _loudness(tracks["mixed"][half:]) > 1000


def test_the_recording_format_is_set_per_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RECORDING_FORMATS == FORMATS  # what the settings take is what the bot records
    monkeypatch.setenv("VOICEFLEET_RECORDING_TENANTS", "acme:opus, beta,*:wav")
    settings = RunnerSettings()
    assert [settings.recording_format(t) for t in ("acme", "beta", "other")] == [
        "opus", "wav", "wav",
    ]  # fmt: skip
    monkeypatch.setenv("VOICEFLEET_RECORDING_TENANTS", "acme")
    assert RunnerSettings().recording_format("other") is None
    monkeypatch.setenv("VOICEFLEET_RECORDING_TENANTS", "acme:mp3")
    with pytest.raises(ValidationError, match="recording format 'mp3' for 'acme'"):
        RunnerSettings()
