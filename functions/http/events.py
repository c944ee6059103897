"""CloudEvents arriving at a function's `POST /`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from functions.http.body import read_body
from functions.http.errors import ApiError
from functions.http.idempotency import Idempotency, fingerprint
from voicefleet import cloudevents_codec


async def read_cloudevent(request: Request, event_type: str) -> tuple[dict[str, Any], Idempotency]:
    """The event's data and its idempotency key.

    CloudEvents are unique by source + id, so a redelivered event is the same request.
    """
    try:
        event = cloudevents_codec.parse(request.headers, await read_body(request))
        data = cloudevents_codec.data_of(event)
    except cloudevents_codec.InvalidCloudEvent as exc:
        raise ApiError(400, str(exc)) from exc
    if event["type"] != event_type:
        raise ApiError(
            400, f"unsupported CloudEvent type {event['type']!r}; send {event_type}", field="type"
        )
    key = f"ce:{event['source']}:{event['id']}"
    return data, Idempotency(key, fingerprint(request, data))
