"""The session report, built by the runner from its record of the call, and sent on.

`session.started` goes out when the bot joins; the report when the call ends, after the
session's final status is written. A report larger than the broker takes in one event is
put in storage and the event carries its key instead (`ReportReference`). An event the
broker's ingress does not take within the sink's retries goes into the pod's event spool
(voicefleet/event_spool.py), which the pod sends on once the broker is back.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from bot.call_record import CallRecord
from bot.recording import CallAudio
from voicefleet import cloudevents_codec
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
from voicefleet.event_sink import EventRefused, EventSink, SinkUnavailable
from voicefleet.event_spool import EventSpool
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
        spool: EventSpool | None = None,
    ) -> None:
        self._sink = sink
        self._source = runner_source(runner_id)
        self._max_event_bytes = max_event_bytes
        self._blobs = blobs
        self._spool = spool

    async def _publish(self, event_type: str, data: dict[str, Any], event_id: str) -> None:
        """Send it, or keep it in the spool when the broker is away; logs what is lost."""
        headers, body = cloudevents_codec.encode(event_type, self._source, data, event_id=event_id)
        try:
            await self._sink.send(event_type, headers, body)
            return
        except EventRefused:
            pass  # logged by the sink; the same event would be refused again
        except SinkUnavailable:
            if self._spool is not None:
                try:
                    await self._spool.put(event_type, headers, body)
                    return
                except OSError as exc:
                    logger.error("event spool at {} unusable: {}", self._spool.folder, exc)
        logger.error("{} {} not sent", event_type, event_id)

    async def started(self, started: SessionStarted) -> None:
        """Sent beside the call: the call goes on whatever becomes of it."""
        await self._publish(
            SESSION_STARTED_EVENT,
            started.model_dump(mode="json"),
            f"{started.session_id}.started",
        )

    async def recordings(self, report: SessionReport, audio: CallAudio) -> list[Recording]:
        """Store the call's recordings (WAV or Ogg Opus, as recorded); a track that cannot be
        stored stays on local disk (logged with its path) rather than being lost."""
        stored: list[Recording] = []
        for track, duration_s in audio.close().items():
            key = f"recordings/{report.tenant}/{report.session_id}/{track}.{audio.form}"
            path = audio.path(track)
            try:
                await self._blobs.put_file(key, path)
            except Exception as exc:  # noqa: BLE001 - the storage client's and the disk's alike
                logger.error("recording {} not stored ({}); kept at {}", key, exc, path)
                continue
            path.unlink(missing_ok=True)
            stored.append(
                Recording(
                    track=track,  # type: ignore[arg-type]
                    format=audio.form,
                    key=key,
                    duration_s=round(duration_s, 3),
                )
            )
        if not any(audio.folder.iterdir()):
            audio.folder.rmdir()
        return stored

    async def report(self, report: SessionReport) -> None:
        """Send it (by reference when too large), or keep it to be sent again."""
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
        await self._publish(SESSION_REPORT_EVENT, data, f"{report.session_id}.report")
