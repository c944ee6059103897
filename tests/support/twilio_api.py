"""A stand-in for Twilio's REST API at its network boundary: the Calls resource, as the
`twilio` package's client reaches it (form-encoded, Basic auth, JSON answers)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Twilio's test number for "this To is not a valid phone number" (error 21211).
INVALID_NUMBER = "+15005550001"


@dataclass
class PlacedCall:
    sid: str
    account_sid: str
    form: dict[str, list[str]]

    def one(self, name: str) -> str:
        return self.form[name][0]


@dataclass
class TwilioApi:
    credentials: dict[str, str]  # account SID → auth token
    calls: list[PlacedCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{account_sid}/Calls.json",
                    self._create_call,
                    methods=["POST"],
                )
            ]
        )

    def _authorized(self, request: Request, account_sid: str) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user == account_sid and self.credentials.get(account_sid) == password

    async def _create_call(self, request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        if not self._authorized(request, account_sid):
            return _error(401, 20003, "Authenticate")
        form = await request.form()
        fields: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            fields.setdefault(key, []).append(str(value))
        for required in ("To", "From"):
            if required not in fields:
                return _error(400, 21201, f"No '{required}' number is specified")
        if fields["To"][0] == INVALID_NUMBER:
            return _error(400, 21211, "Invalid 'To' Phone Number")
        call = PlacedCall("CA" + uuid.uuid4().hex, account_sid, fields)
        self.calls.append(call)
        return JSONResponse(_resource(call), status_code=201)


def _error(status: int, code: int, message: str) -> Response:
    body = {"code": code, "message": message, "more_info": "", "status": status}
    return JSONResponse(body, status_code=status)


def _resource(call: PlacedCall) -> dict[str, Any]:
    return {
        "sid": call.sid,
        "account_sid": call.account_sid,
        "to": call.one("To"),
        "from": call.one("From"),
        "status": "queued",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{call.account_sid}/Calls/{call.sid}.json",
    }
