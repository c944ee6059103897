"""The session report, built by the runner from its record of the call, and sent on.

`session.started` goes out when the bot joins; the report when the call ends, after the
session's final status is written. A report larger than the broker takes in one event is
put in storage and the event carries its key instead (`ReportReference`).
"""

from __future__ import annotations

import time

from loguru import logger

from bot.call_record import CallRecord
from bot.recording import CallAudio
from voicefleet.blobs import BlobStore
from voicefleet.contracts import (
    SESSION_REPORT_EVENT,
    SESSION_STARTED_EVENT,
    LaunchPayload,
    SessionRecord,
    SessionStart,
    SessionStatus,
    runner_source,
)
from voicefleet.event_sink import EventSink, SinkUnavailable
from voicefleet.reports import Recording, ReportReference, SessionReport, SessionStarted


def build_report(
    launch: LaunchPayload,
    record: CallRecord,
    *,
    status: SessionStatus,
    reason: str | None,
    session: SessionRecord | None,
    ended_at: float | None = None,
) -> SessionReport:
    ended_at = ended_at if ended_at is not None else time.time()
    started_at = record.started_at
    start = SessionStart.model_validate(session.model_dump()) if session else SessionStart()
    return SessionReport(
        session_id=launch.session_id,
        tenant=launch.tenant,
        transport=launch.transport,
        status="ended" if status is SessionStatus.ENDED else "failed",
        end_reason=reason,
        started_at=started_at,
        ended_at=ended_at,
        duration_s=round(max(ended_at - started_at, 0.0), 3),
        start=start,
        transcript=record.transcript,
        turns=record.turns,
        tool_calls=record.tool_calls,
        admin_messages=record.admin_messages,
        usage=record.usage,
    )


class ReportPublisher:
    def __init__(
        self,
        sink: EventSink,
        runner_id: str,
        *,
        max_event_bytes: int,
        blobs: BlobStore,
    ) -> None:
        self._sink = sink
        self._source = runner_source(runner_id)
        self._max_event_bytes = max_event_bytes
        self._blobs = blobs

    async def started(self, started: SessionStarted) -> None:
        try:
            await self._sink.publish(
                SESSION_STARTED_EVENT,
                self._source,
                started.model_dump(mode="json"),
                event_id=f"{started.session_id}.started",
            )
        except SinkUnavailable:
            pass  # logged by the sink; the call goes on and its report still follows

    async def recordings(self, report: SessionReport, audio: CallAudio) -> list[Recording]:
        """Store the call's WAV files; a track that cannot be stored stays on local disk
        (logged with its path) rather than being lost."""
        stored: list[Recording] = []
        for track, duration_s in audio.close().items():
            key = f"recordings/{report.tenant}/{report.session_id}/{track}.wav"
            path = audio.path(track)
            try:
                await self._blobs.put_file(key, path)
            except Exception as exc:  # noqa: BLE001 - the storage client's and the disk's alike
                logger.error("recording {} not stored ({}); kept at {}", key, exc, path)
                continue
            path.unlink(missing_ok=True)
            stored.append(
                Recording(track=track, format="wav", key=key, duration_s=round(duration_s, 3))  # type: ignore[arg-type]
            )
        if not any(audio.folder.iterdir()):
            audio.folder.rmdir()
        return stored

    async def report(self, report: SessionReport) -> None:
        """Send it, by reference when too large; logs what it could not send."""
        body = report.model_dump_json().encode()
        data = report.model_dump(mode="json")
        if len(body) > self._max_event_bytes:
            key = f"reports/{report.tenant}/{report.session_id}.json"
            await self._blobs.put(key, body)
            data = ReportReference(
                session_id=report.session_id,
                tenant=report.tenant,
                report_key=key,
                size_bytes=len(body),
            ).model_dump(mode="json")
            logger.info("report of {} ({} bytes) sent by reference", report.session_id, len(body))
        try:
            await self._sink.publish(
                SESSION_REPORT_EVENT,
                self._source,
                data,
                event_id=f"{report.session_id}.report",
            )
        except SinkUnavailable:
            logger.error("report of session {} not sent", report.session_id)
