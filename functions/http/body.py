"""Reading and validating request bodies into the gateway's models, with 4xx on bad input."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from functions.http.errors import ApiError, from_validation
from voicefleet.body_deadline import CLOSE, BodyTimeout, within_deadline

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


async def read_json(request: Request) -> dict[str, Any]:
    raw = await read_body(request)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def validate(model: type[M], data: dict[str, Any], *, within: str | None = None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, within=within) from exc
