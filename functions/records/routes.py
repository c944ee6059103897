"""The records function's endpoints, all fed by the broker (it is cluster-local).

`POST /` takes session events: a report is stored, then each of the tenant's webhooks that
wants the event gets a delivery, sent back through the broker as its own event. `POST
/deliver` makes one attempt at one delivery and answers 5xx when it failed, so the broker's
retries, backoff and dead letter (`POST /deadletter`) carry webhooks too. Nothing is
acknowledged before it is stored: a database that is down answers 503, and the broker
tries again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.records.context import RecordsContext
from voicefleet import cloudevents_codec
from voicefleet.blobs import BlobNotFound
from voicefleet.cloudevent_intake import read_body
from voicefleet.contracts import (
    RECORDS_SOURCE,
    SESSION_ENDED_EVENT,
    SESSION_REPORT_EVENT,
    SESSION_STARTED_EVENT,
    WEBHOOK_DELIVERY_EVENT,
    SessionEnded,
)
from voicefleet.event_sink import SinkUnavailable
from voicefleet.http_errors import ApiError
from voicefleet.records.addresses import UnsafeAddress, check_url
from voicefleet.records.sender import send
from voicefleet.reports import ReportReference, SessionReport, SessionStarted

# A report event's largest size (the runner sends a larger report by reference).
EVENT_MAX_BYTES = 4 * 1024 * 1024
SESSION_EVENTS = (SESSION_STARTED_EVENT, SESSION_ENDED_EVENT, SESSION_REPORT_EVENT)


def webhook_event_name(event_type: str) -> str:
    """`io.voicefleet.session.report` → `session.report`, the name tenants subscribe to."""
    return event_type.removeprefix("io.voicefleet.")


WEBHOOK_EVENTS = tuple(webhook_event_name(t) for t in SESSION_EVENTS)


async def _event(request: Request) -> tuple[Any, dict[str, Any]]:
    try:
        body = await read_body(request, limit=EVENT_MAX_BYTES)
        event = cloudevents_codec.parse(request.headers, body)
        return event, cloudevents_codec.data_of(event)
    except cloudevents_codec.InvalidCloudEvent as exc:
        raise ApiError(400, str(exc)) from exc


async def _owner(ctx: RecordsContext, session_id: str, tenant: str | None) -> str:
    """The session's tenant, from its record: an event about a session that does not exist
    (or names another tenant) is refused, so only the runner that ran it can report it."""
    record = await ctx.sessions.get(session_id)
    if record is None or (tenant is not None and record.tenant != tenant):
        raise ApiError(404, f"no session {session_id!r} to record")
    return record.tenant


async def _report(ctx: RecordsContext, data: dict[str, Any]) -> SessionReport:
    if "report_key" in data:
        reference = ReportReference.model_validate(data)
        try:
            raw = await ctx.blobs.get(reference.report_key)
        except (BlobNotFound, ValueError) as exc:
            raise ApiError(422, f"report {reference.report_key!r} is not in storage") from exc
        return SessionReport.model_validate_json(raw)
    return SessionReport.model_validate(data)


async def session_event(request: Request, ctx: RecordsContext) -> Response:
    event, data = await _event(request)
    kind = str(event["type"])
    try:
        if kind == SESSION_REPORT_EVENT:
            report = await _report(ctx, data)
            tenant = await _owner(ctx, report.session_id, report.tenant)
            stored = await ctx.records.save_report(report)
            for recording in report.recordings:  # webhooks get links that work for a while
                recording.url = await ctx.blobs.url(recording.key, ctx.settings.recording_url_ttl_s)
            session_id, payload = report.session_id, report.model_dump(mode="json")
            await ctx.sweep_if_due()
        elif kind == SESSION_STARTED_EVENT:
            started = SessionStarted.model_validate(data)
            tenant = await _owner(ctx, started.session_id, started.tenant)
            session_id, payload, stored = started.session_id, started.model_dump(mode="json"), False
        elif kind == SESSION_ENDED_EVENT:
            ended = SessionEnded.model_validate(data)
            if ended.status == "duplicate":  # a retried launch, not a call
                return JSONResponse({"ignored": "duplicate launch"})
            tenant = await _owner(ctx, ended.session_id, None)
            session_id, payload, stored = ended.session_id, ended.model_dump(mode="json"), False
        else:
            raise ApiError(400, f"unsupported CloudEvent type {kind!r}", field="type")
        sent = await _fan_out(ctx, event, kind, tenant, session_id, payload)
    except ValidationError as exc:
        raise ApiError(422, f"invalid {kind} data: {exc.errors()[0]['msg']}") from exc
    except SQLAlchemyError as exc:
        logger.warning("records database unavailable: {}", type(exc).__name__)
        raise ApiError(503, "records database unavailable; retry", retry_after_s=1) from exc
    return JSONResponse({"session_id": session_id, "stored": stored, "deliveries": sent})


async def _fan_out(
    ctx: RecordsContext,
    event: Any,
    kind: str,
    tenant: str,
    session_id: str,
    payload: dict[str, Any],
) -> int:
    name = webhook_event_name(kind)
    hooks = await ctx.records.webhooks(tenant, name)
    if not hooks:
        return 0
    if ctx.sink is None:
        raise ApiError(503, "the records function has no event sink (K_SINK) for webhooks")
    timestamp = str(event.get("time") or datetime.now(UTC).isoformat())
    body = json.dumps({"type": name, "timestamp": timestamp, "data": payload})
    for hook in hooks:
        # The same event to the same webhook is the same message, however often it arrives.
        digest = hashlib.sha256(f"{event['source']}|{event['id']}|{hook.id}".encode())
        delivery_id = "msg_" + digest.hexdigest()[:32]
        created = await ctx.records.add_delivery(delivery_id, hook, name, session_id, body)
        existing = None if created else await ctx.records.delivery(delivery_id)
        if created or (existing is not None and existing.status == "pending"):
            await publish_delivery(ctx, delivery_id)
    return len(hooks)


async def publish_delivery(ctx: RecordsContext, delivery_id: str) -> None:
    assert ctx.sink is not None
    try:
        await ctx.sink.publish(WEBHOOK_DELIVERY_EVENT, RECORDS_SOURCE, {"delivery_id": delivery_id})
    except SinkUnavailable as exc:
        raise ApiError(503, "broker unavailable; retry", retry_after_s=1) from exc


async def deliver(request: Request, ctx: RecordsContext) -> Response:
    """One attempt at one delivery: 2xx when the endpoint took it (or there is nothing left
    to do), 502 for the broker to retry, 422 for a refusal no retry can change."""
    _, data = await _event(request)
    delivery_id = str(data.get("delivery_id", ""))
    delivery = await ctx.records.delivery(delivery_id)
    if delivery is None or delivery.status == "delivered":
        return JSONResponse({"delivery_id": delivery_id, "sent": False})
    hook = await ctx.records.webhook(delivery.tenant, delivery.webhook_id)
    if hook is None:  # deleted since
        return JSONResponse({"delivery_id": delivery_id, "sent": False})
    try:
        await check_url(hook.url, allow_loopback=ctx.settings.webhooks_allow_loopback)
    except UnsafeAddress as exc:
        await ctx.records.add_attempt(delivery_id, status_code=None, latency_ms=0, error=str(exc))
        raise ApiError(422, f"webhook refused: {exc}") from exc
    attempt = await send(
        ctx.webhook_http, hook.url, hook.secret, delivery.id, delivery.body.encode()
    )
    await ctx.records.add_attempt(
        delivery_id,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
    )
    if attempt.ok:
        await ctx.records.set_delivery_status(delivery_id, "delivered")
        return JSONResponse({"delivery_id": delivery_id, "sent": True})
    if attempt.status_code is not None and 300 <= attempt.status_code < 400:
        raise ApiError(422, f"webhook not delivered: {attempt.error}")
    raise ApiError(502, f"webhook not delivered: {attempt.error}")


async def dead_letter(request: Request, ctx: RecordsContext) -> Response:
    """Where the broker gives up: a delivery is marked dead-lettered (replayable from the
    admin API); any other event is kept in storage and logged, for an operator."""
    event, data = await _event(request)
    code = event.get("knativeerrorcode") or "unknown"
    if event["type"] == WEBHOOK_DELIVERY_EVENT:
        delivery_id = str(data.get("delivery_id", ""))
        delivery = await ctx.records.delivery(delivery_id)
        if delivery is not None and delivery.status == "pending":
            await ctx.records.set_delivery_status(delivery_id, "dead_lettered")
            logger.warning("webhook delivery {} dead-lettered (last status {})", delivery_id, code)
        return JSONResponse({"delivery_id": delivery_id, "dead_lettered": delivery is not None})
    key = f"dead-letters/{event['id']}.json"
    await ctx.blobs.put(key, json.dumps({"type": event["type"], "data": data}).encode())
    logger.error(
        "{} {} dead-lettered (last status {}); kept at {}", event["type"], event["id"], code, key
    )
    return JSONResponse({"kept": key})
