"""Errors every voicefleet service answers with, in one shape: `{"error": {"message", "field"?}}`
with its status (and Retry-After for a 429 or 503), so a client reads any refusal one way."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        retry_after_s: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: object,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        # For a 429 or 503: when trying again makes sense (brokers and SDKs honour it).
        self.retry_after_s = retry_after_s
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> JSONResponse:
        headers = dict(self.headers)
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return error_response(
            self.status, self.message, field=self.field, headers=headers, **self.extra
        )


def error_response(
    status: int,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """The error envelope: `{"error": {"message", "field"?}, **extra}`."""
    error: dict[str, object] = {"message": message}
    if field:
        error["field"] = field
    return JSONResponse({"error": error, **extra}, status_code=status, headers=headers)


def from_validation(exc: ValidationError, *, within: str | None = None) -> ApiError:
    """The first problem, named by its dotted field path (`room_url`, `body.greeting`);
    `within` names the part of the request that was validated, when it was not the whole."""
    first = exc.errors()[0]
    path = [within] if within else []
    field = ".".join([*path, *(str(part) for part in first["loc"])]) or None
    return ApiError(422, f"{field}: {first['msg']}" if field else first["msg"], field=field)
