"""The admin API over what remains of calls: past sessions' reports, and webhooks with their
deliveries (each attempt), including replaying a dead-lettered delivery."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.admin.context import AdminContext
from functions.http.body import read_json, validate
from voicefleet.contracts import RECORDS_SOURCE, WEBHOOK_DELIVERY_EVENT
from voicefleet.event_sink import SinkUnavailable
from voicefleet.http_errors import ApiError
from voicefleet.records.addresses import URL_MAX, UnsafeAddress, check_url
from voicefleet.records.db import WebhookRow

WebhookEvent = Literal["session.report", "session.started", "session.ended"]
MAX_WEBHOOKS = 20


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=URL_MAX)
    events: list[WebhookEvent] = Field(default=["session.report"], min_length=1, max_length=3)

    @field_validator("events")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


def _view(hook: WebhookRow) -> dict[str, object]:
    return {
        "id": hook.id,
        "url": hook.url,
        "events": hook.events,
        "created_at": hook.created_at.timestamp(),
    }


def _int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(422, f"{name} must be an integer", field=name) from exc
    if not low <= value <= high:
        raise ApiError(422, f"{name} must be between {low} and {high}", field=name)
    return value


async def list_reports(request: Request, ctx: AdminContext) -> Response:
    """`GET /reports?since=&status=&limit=`: past sessions, newest first."""
    tenant = ctx.authenticate(request)
    since_raw = request.query_params.get("since")
    since: float | None = None
    if since_raw is not None:
        try:
            since = float(since_raw)
        except ValueError as exc:
            raise ApiError(422, "since must be a Unix time in seconds", field="since") from exc
    status = request.query_params.get("status")
    if status is not None and status not in ("ended", "failed"):
        raise ApiError(422, "status must be 'ended' or 'failed'", field="status")
    limit = _int(request, "limit", 50, low=1, high=500)
    listed = await ctx.records.reports(tenant, since=since, status=status, limit=limit)
    return JSONResponse({"reports": listed})


async def get_report(request: Request, ctx: AdminContext) -> Response:
    tenant = ctx.authenticate(request)
    session_id = str(request.path_params["session_id"])
    report = await ctx.records.report(tenant, session_id)
    if report is None:
        raise ApiError(404, f"no report for session {session_id!r}", field="session_id")
    return JSONResponse(report.model_dump(mode="json"))


async def create_webhook(request: Request, ctx: AdminContext) -> Response:
    tenant = ctx.authenticate(request)
    new = validate(NewWebhook, await read_json(request))
    try:
        await check_url(new.url, allow_loopback=ctx.settings.webhooks_allow_loopback)
    except UnsafeAddress as exc:
        raise ApiError(422, str(exc), field="url") from exc
    if len(await ctx.records.webhooks(tenant)) >= MAX_WEBHOOKS:
        raise ApiError(409, f"a tenant has at most {MAX_WEBHOOKS} webhooks")
    hook = await ctx.records.add_webhook(tenant, new.url, list(new.events))
    # The secret is shown once, here: the receiver verifies signatures with it.
    return JSONResponse({**_view(hook), "secret": hook.secret}, status_code=201)


async def list_webhooks(request: Request, ctx: AdminContext) -> Response:
    tenant = ctx.authenticate(request)
    return JSONResponse({"webhooks": [_view(h) for h in await ctx.records.webhooks(tenant)]})


async def _owned(request: Request, ctx: AdminContext) -> tuple[str, WebhookRow]:
    tenant = ctx.authenticate(request)
    webhook_id = str(request.path_params["webhook_id"])
    hook = await ctx.records.webhook(tenant, webhook_id)
    if hook is None:
        raise ApiError(404, f"no webhook {webhook_id!r}", field="webhook_id")
    return tenant, hook


async def delete_webhook(request: Request, ctx: AdminContext) -> Response:
    tenant, hook = await _owned(request, ctx)
    await ctx.records.delete_webhook(tenant, hook.id)
    return Response(status_code=204)


async def list_deliveries(request: Request, ctx: AdminContext) -> Response:
    tenant, hook = await _owned(request, ctx)
    limit = _int(request, "limit", 50, low=1, high=500)
    return JSONResponse({"deliveries": await ctx.records.deliveries(tenant, hook.id, limit)})


async def replay_delivery(request: Request, ctx: AdminContext) -> Response:
    """`POST /webhooks/{id}/deliveries/{delivery_id}/replay`: send it again, same message id."""
    _, hook = await _owned(request, ctx)
    delivery_id = str(request.path_params["delivery_id"])
    delivery = await ctx.records.delivery(delivery_id)
    if delivery is None or delivery.webhook_id != hook.id:
        raise ApiError(404, f"no delivery {delivery_id!r}", field="delivery_id")
    if delivery.status == "pending":
        raise ApiError(409, f"delivery {delivery_id} is still being attempted")
    if ctx.sink is None:
        raise ApiError(503, "the admin function has no event sink (K_SINK) to replay through")
    await ctx.records.set_delivery_status(delivery_id, "pending")
    try:
        await ctx.sink.publish(WEBHOOK_DELIVERY_EVENT, RECORDS_SOURCE, {"delivery_id": delivery_id})
    except SinkUnavailable as exc:
        await ctx.records.set_delivery_status(delivery_id, delivery.status)
        raise ApiError(503, "broker unavailable; retry", retry_after_s=1) from exc
    return JSONResponse({"id": delivery_id, "status": "pending"}, status_code=202)
