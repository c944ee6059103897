"""A stand-in for Telnyx's Call Control REST API at its network boundary: "Dial" (`POST
/v2/calls`) and a call's commands (`POST /v2/calls/{call_control_id}/actions/{speak,hangup}`),
JSON with a bearer API key, as https://developers.telnyx.com/api/call-control describes them;
and Telnyx's side of the webhooks: call events sent to the Dial's `webhook_url`, signed with
Ed25519 over `"{telnyx-timestamp}|{body}"`."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# A number this stand-in refuses, as Telnyx refuses a `to` it cannot dial (422).
INVALID_NUMBER = "+15005550001"


@dataclass
class PlacedCall:
    call_control_id: str
    body: dict[str, Any]
    ended: bool = False


@dataclass
class TelnyxApi:
    api_key: str
    connection_id: str
    signing_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    calls: list[PlacedCall] = field(default_factory=list)
    # (call control id, action, body) for each command received.
    commands: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/v2/calls", self._dial, methods=["POST"]),
                Route(
                    "/v2/calls/{call_control_id}/actions/{action}", self._command, methods=["POST"]
                ),
            ]
        )

    @property
    def public_key(self) -> str:
        raw = self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.api_key}"

    async def _dial(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "10009", "Authentication failed")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "10015", "Bad Request")
        for required in ("connection_id", "to", "from"):
            if not body.get(required):
                return _error(422, "10004", f"Missing required parameter: {required}", required)
        if body["connection_id"] != self.connection_id:
            return _error(422, "10005", "Resource not found: connection_id", "connection_id")
        if body["to"] == INVALID_NUMBER:
            return _error(422, "10016", "Invalid phone number: to", "to")
        # A second Dial with the same command id is ignored: it is the same call.
        same = [
            c
            for c in self.calls
            if body.get("command_id") and c.body.get("command_id") == body["command_id"]
        ]
        call = same[0] if same else PlacedCall("v3:" + uuid.uuid4().hex, body)
        if not same:
            self.calls.append(call)
        return JSONResponse({"data": _resource(call)})

    async def _command(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "10009", "Authentication failed")
        call_control_id = request.path_params["call_control_id"]
        action = request.path_params["action"]
        body = await request.json()
        self.commands.append((call_control_id, action, body))
        call = next((c for c in self.calls if c.call_control_id == call_control_id), None)
        if call is None or call.ended:
            return _error(422, "90018", "Call has already ended")
        if action == "hangup":
            call.ended = True
        return JSONResponse({"data": {"result": "ok"}})

    # Telnyx's side of the webhooks ----------------------------------------------------------

    def signed(self, body: bytes, *, key: Ed25519PrivateKey | None = None) -> dict[str, str]:
        """The headers Telnyx sends a webhook body with (signed with `key` if given)."""
        sent_at = str(int(time.time()))
        signature = (key or self.signing_key).sign(sent_at.encode() + b"|" + body)
        return {
            "content-type": "application/json",
            "telnyx-timestamp": sent_at,
            "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        }

    def event_body(self, call: PlacedCall, event_type: str, **payload: Any) -> bytes:
        event = {
            "data": {
                "record_type": "event",
                "event_type": event_type,
                "id": str(uuid.uuid4()),
                "occurred_at": "2026-12-07T03:00:00.000000Z",
                "payload": {
                    "call_control_id": call.call_control_id,
                    "connection_id": call.body["connection_id"],
                    "call_leg_id": str(uuid.uuid4()),
                    "call_session_id": str(uuid.uuid4()),
                    "client_state": call.body.get("client_state"),
                    "from": call.body["from"],
                    "to": call.body["to"],
                    "direction": "outgoing",
                    **payload,
                },
            },
            "meta": {"attempt": 1, "delivered_to": call.body.get("webhook_url")},
        }
        return json.dumps(event).encode()

    async def send_event(
        self,
        call: PlacedCall,
        event_type: str,
        *,
        headers: dict[str, str] | None = None,
        **payload: Any,
    ) -> int:
        """POST a call event to the call's webhook URL, signed unless `headers` says otherwise;
        the status the gateway answered."""
        body = self.event_body(call, event_type, **payload)
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                call.body["webhook_url"], content=body, headers=headers or self.signed(body)
            )
        return response.status_code


def _error(status: int, code: str, detail: str, pointer: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "title": detail.split(":")[0], "detail": detail}
    if pointer:
        error["source"] = {"pointer": f"/{pointer}"}
    return JSONResponse({"errors": [error]}, status_code=status)


def _resource(call: PlacedCall) -> dict[str, Any]:
    return {
        "call_control_id": call.call_control_id,
        "call_leg_id": str(uuid.uuid4()),
        "call_session_id": str(uuid.uuid4()),
        "is_alive": False,
        "record_type": "call",
    }
