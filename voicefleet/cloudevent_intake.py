"""Reading a CloudEvent from an HTTP request, the same way in every service that takes one.

The gateway's `POST /` and dead-letter sink, and the runner's launch endpoint, each take
events from the network; each gets the same body size limit, read deadline, parsing and type
check here, and answers a bad event with the same 4xx (`ApiError`).
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

from cloudevents.http import CloudEvent
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from voicefleet import cloudevents_codec
from voicefleet.body_deadline import CLOSE, BodyTimeout, within_deadline
from voicefleet.http_errors import ApiError

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 256 * 1024


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body; 413 past `limit` (the excess is drained, never held in memory),
    408 if it has not all arrived within the body deadline (a stalled or dripping client)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in within_deadline(request.stream()):
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
    except BodyTimeout as exc:
        raise ApiError(408, str(exc), headers=CLOSE) from exc
    if size > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    return b"".join(chunks)


class Received(NamedTuple):
    event: CloudEvent
    data: dict[str, Any]
    body: bytes  # as it arrived, for a service that passes the event on


async def read_event(request: Request, event_type: str) -> Received:
    """The event (binary or structured mode), its data and the body it came in; 400 if it
    is not one of `event_type`, or not a valid CloudEvent."""
    body = await read_body(request)
    try:
        event = cloudevents_codec.parse(request.headers, body)
        data = cloudevents_codec.data_of(event)
    except cloudevents_codec.InvalidCloudEvent as exc:
        raise ApiError(400, str(exc)) from exc
    if event["type"] != event_type:
        raise ApiError(
            400, f"unsupported CloudEvent type {event['type']!r}; send {event_type}", field="type"
        )
    return Received(event, data, body)


def event_payload(model: type[M], data: dict[str, Any], *, what: str) -> M:
    """The event's data as `model`; 400 naming `what` was expected."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ApiError(400, f"not {what}: {field}: {first['msg']}", field=field or None) from exc
