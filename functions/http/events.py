"""CloudEvents arriving at a function's `POST /`, with their idempotency key."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from functions.http.idempotency import Idempotency, fingerprint
from voicefleet.cloudevent_intake import read_event


async def read_cloudevent(request: Request, event_type: str) -> tuple[dict[str, Any], Idempotency]:
    """The event's data and its idempotency key.

    CloudEvents are unique by source + id, so a redelivered event is the same request.
    """
    event, data, _ = await read_event(request, event_type)
    key = f"ce:{event['source']}:{event['id']}"
    return data, Idempotency(key, fingerprint(request, data))
