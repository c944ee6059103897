"""Events the broker could not take, kept on disk and sent again until it takes them.

A runner sends `session.started` and `session.report` to the broker's ingress (K_SINK) with a
few seconds of retries (`EventSink`); past those, the event goes into this spool: one file per
event, written to a temporary name and renamed into place, so a reader never sees half a file.
A sender (`SpoolSender`, run by the runner pod, not by its slots) sends what waits, oldest
first, at start (what the previous container left), as files appear, with backoff while the
broker is away, and once more, for a bounded time, when the pod drains before it exits.

Why a directory on the pod's volume and not a Redis stream: the failure this covers is the
broker's ingress being away (an upgrade, a restart, a network partition) at the moment a call
ends, and the file needs nothing else to be up to be written; Redis can be down in the same
outage (the session store then fails too) and would hold reports of up to a megabyte in the
memory every session shares. What the directory does not survive is the pod's deletion while
the broker is still away after the drain's last attempts (an emptyDir goes with its pod); a
container restart keeps it, and the next start sends it. Events are written exactly as they
were first encoded (same id, source and time), so a resend is the same event to every
subscriber, and the records function drops it by its id; the broker's token is added at each
sending, never written here.

Bounded: past `max_bytes` the oldest events are dropped, each with a warning and the
`voicefleet_event_spool_dropped_total` counter.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from loguru import logger

from voicefleet.event_sink import EventRefused, EventSink, SinkUnavailable
from voicefleet.observability.metrics import EVENTS_SPOOL_DROPPED, EVENTS_SPOOLED

_SUFFIX = ".event"
# A temporary file this old was left by a process that died while writing it.
_STALE_TMP_S = 300.0


class EventSpool:
    """One directory of waiting events; any process may write, one (the sender) reads."""

    def __init__(self, folder: Path, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def waiting(self) -> list[Path]:
        """The waiting events, oldest first (names begin with the time they were written)."""
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(_SUFFIX))
        except FileNotFoundError:
            return []
        return [self.folder / n for n in names]

    async def put(self, event_type: str, headers: Mapping[str, str], body: bytes) -> None:
        await asyncio.to_thread(self._put, event_type, dict(headers), body)

    def _put(self, event_type: str, headers: dict[str, str], body: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = json.dumps(
            {"type": event_type, "headers": headers, "body": base64.b64encode(body).decode()}
        ).encode()
        self._make_room(len(entry))
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}{_SUFFIX}"
        tmp = self.folder / f".{name}.tmp"
        with open(tmp, "wb") as out:
            out.write(entry)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.folder / name)
        EVENTS_SPOOLED.labels(type=event_type).inc()
        logger.warning(
            "{} {} kept in the event spool to be sent again", event_type, headers.get("ce-id")
        )

    def _make_room(self, size: int) -> None:
        files = []
        for path in self.waiting():
            with contextlib.suppress(FileNotFoundError):
                files.append((path, path.stat().st_size))
        total = sum(s for _, s in files) + size
        for path, file_size in files:
            if total <= self.max_bytes:
                break
            total -= file_size
            self._drop(path, f"the spool is full ({self.max_bytes} bytes)")

    def _drop(self, path: Path, why: str) -> None:
        event_type = "unknown"
        with contextlib.suppress(OSError, ValueError, KeyError):
            event_type = str(json.loads(path.read_bytes())["type"])
        path.unlink(missing_ok=True)
        EVENTS_SPOOL_DROPPED.labels(type=event_type).inc()
        logger.warning("{} dropped from the event spool ({}): {}", event_type, path.name, why)

    def _clear_stale(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.folder):
                if entry.name.endswith(".tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        if time.time() - entry.stat().st_mtime > _STALE_TMP_S:
                            os.unlink(entry.path)

    async def flush(self, sink: EventSink) -> int:
        """Send what waits, oldest first, stopping at the first event the broker does not
        take (it is away: the rest would fail too). Returns how many still wait."""
        await asyncio.to_thread(self._clear_stale)
        for path in self.waiting():
            try:
                entry = json.loads(await asyncio.to_thread(path.read_bytes))
                event_type, headers = str(entry["type"]), dict(entry["headers"])
                body = base64.b64decode(entry["body"])
            except FileNotFoundError:
                continue  # dropped by a writer making room
            except (ValueError, KeyError, TypeError) as exc:
                self._drop(path, f"unreadable: {type(exc).__name__}")
                continue
            try:
                await sink.send(event_type, headers, body)
            except EventRefused as exc:
                self._drop(path, str(exc))
                continue
            except SinkUnavailable:
                break
            path.unlink(missing_ok=True)
            logger.info("{} {} sent from the event spool", event_type, headers.get("ce-id"))
        return len(self.waiting())


class SpoolSender:
    """Sends a spool's events in the background until stopped, then tries once more."""

    def __init__(
        self,
        spool: EventSpool,
        sink: EventSink,
        *,
        poll_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        self.spool = spool
        self._sink = sink
        self._poll_s = poll_s
        self._max_backoff_s = max_backoff_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-spool")

    async def _run(self) -> None:
        delay = self._poll_s
        while True:
            left = 0
            try:
                if self.spool.waiting():
                    left = await self.spool.flush(self._sink)
            except OSError as exc:  # the volume itself: keep trying, as for the broker
                logger.error("event spool at {} unusable: {}", self.spool.folder, exc)
                left = 1
            delay = min(delay * 2, self._max_backoff_s) if left else self._poll_s
            await asyncio.sleep(delay)

    async def stop(self, flush_s: float) -> int:
        """Stop the background sending, then send what waits, for at most `flush_s` seconds
        (a draining pod's last chance); returns how many are left, each logged."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        deadline = time.monotonic() + flush_s
        delay = min(self._poll_s, 0.5)
        left = len(self.spool.waiting())
        while left:
            left = await self.spool.flush(self._sink)
            if not left or time.monotonic() + delay > deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        if left:
            logger.error(
                "{} event(s) still in the spool at {}: sent at the next start on this volume",
                left,
                self.spool.folder,
            )
        else:  # a temporary folder goes with its process (a volume's mount point stays)
            with contextlib.suppress(OSError):
                self.spool.folder.rmdir()
        return left
