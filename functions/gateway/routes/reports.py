"""A finished session's report: `GET /sessions/{id}/report`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway.context import GatewayContext
from voicefleet.http_errors import ApiError


async def get_report(request: Request, ctx: GatewayContext) -> Response:
    """404 for a session that is not the tenant's; 409 while it runs (or until its report is
    stored, a moment after it ends); the report once stored, also after the session's own
    record has expired."""
    tenant = ctx.authenticate(request)
    session_id = str(request.path_params["session_id"])
    report = await ctx.records.report(tenant, session_id)
    if report is not None:
        for recording in report.recordings:
            recording.url = await ctx.blobs.url(recording.key, ctx.settings.recording_url_ttl_s)
        return JSONResponse(report.model_dump(mode="json"))
    record = await ctx.store.get(session_id)
    if record is None or record.tenant != tenant:
        raise ApiError(404, f"no session {session_id!r}", field="session_id")
    if not record.status.is_final:
        raise ApiError(409, f"session {session_id} is {record.status.value}; no report yet")
    raise ApiError(409, f"the report of session {session_id} is not stored yet", retry_after_s=1)
