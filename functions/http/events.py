"""What a function's `POST /` is sent: a CloudEvent, or the plain JSON of its named route, each
with its idempotency key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from functions.http.body import read_json
from functions.http.idempotency import Idempotency, fingerprint, idempotency
from voicefleet import cloudevents_codec
from voicefleet.cloudevent_intake import read_event


async def read_json_or_event(
    request: Request, event_type: str
) -> tuple[dict[str, Any], Idempotency | None]:
    """The data of a CloudEvent of `event_type` (binary or structured), or the plain JSON the
    function's named route takes (`/admin`, `/join`), with its idempotency key.

    CloudEvents are unique by source + id, so a redelivered event is the same request; plain
    JSON is keyed by the request's Idempotency-Key, if it sent one.
    """
    if not cloudevents_codec.is_cloudevent(request.headers):
        data = await read_json(request)
        return data, idempotency(request, data)
    event, data, _ = await read_event(request, event_type)
    key = f"ce:{event['source']}:{event['id']}"
    return data, Idempotency(key, fingerprint(request, data))
