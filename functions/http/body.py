"""Reading and validating request bodies into the gateway's models, with 4xx on bad input."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from voicefleet.cloudevent_intake import read_body
from voicefleet.http_errors import ApiError, from_validation

M = TypeVar("M", bound=BaseModel)


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
