"""Errors the gateway answers with: a status, a message and, for bad input, the field."""

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
        error: dict[str, object] = {"message": self.message}
        if self.field:
            error["field"] = self.field
        headers = dict(self.headers)
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        body = {"error": error, **self.extra}
        return JSONResponse(body, status_code=self.status, headers=headers)


def from_validation(exc: ValidationError, *, within: str | None = None) -> ApiError:
    """The first problem, named by its dotted field path (`room_url`, `body.greeting`);
    `within` names the part of the request that was validated, when it was not the whole."""
    first = exc.errors()[0]
    path = [within] if within else []
    field = ".".join([*path, *(str(part) for part in first["loc"])]) or None
    return ApiError(422, f"{field}: {first['msg']}" if field else first["msg"], field=field)
