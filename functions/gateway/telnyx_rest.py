"""Placing and steering a call through Telnyx's Call Control REST API (v2), over the gateway's
own httpx client: `POST /v2/calls` ("Dial") and the two commands a placed call needs later,
`speak` and `hangup` (https://developers.telnyx.com/api/call-control/dial-call).

A small typed client rather than the `telnyx` package: three JSON requests with a bearer key.
`TELNYX_API_URL` points it elsewhere than https://api.telnyx.com (a stand-in in tests).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from functions.gateway.twilio_rest import RING_TIMEOUT_S, CallNotPlaced

_TIMEOUT_S = 10.0
# What Telnyx's text-to-speech says "all lines are busy" with.
VOICE, LANGUAGE = "female", "en-US"


@dataclass(frozen=True)
class Dial:
    """What "Dial" is sent: the call, where its media streams, where its webhooks go."""

    connection_id: str
    to: str
    from_: str
    stream_url: str
    stream_token: str
    webhook_url: str
    # Telnyx ignores a second Dial with the same command id: a retry places one call.
    command_id: str

    def body(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "to": self.to,
            "from": self.from_,
            "timeout_secs": RING_TIMEOUT_S,
            # The callee's audio to the bot, the bot's back as RTP payloads (8 kHz μ-law).
            "stream_url": self.stream_url,
            "stream_track": "inbound_track",
            "stream_bidirectional_mode": "rtp",
            "stream_bidirectional_codec": "PCMU",
            # Call Control streams carry no custom parameters: the one-time token rides in the
            # client state, which the stream's `start` message hands back (base64, as Telnyx
            # requires it).
            "client_state": encode_state(self.stream_token),
            "webhook_url": self.webhook_url,
            "webhook_url_method": "POST",
            "command_id": self.command_id,
        }


def encode_state(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def decode_state(state: object) -> str:
    """A client state as text; anything that is not base64 of UTF-8 is ''."""
    if not isinstance(state, str) or len(state) > 400:
        return ""
    try:
        return base64.b64decode(state, validate=True).decode()
    except ValueError:
        return ""


class TelnyxCalls:
    """One account's Call Control commands; a refusal or an unreachable API is
    `CallNotPlaced`, its message saying which."""

    def __init__(self, client: httpx.AsyncClient, *, api_url: str, api_key: str) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}

    async def _post(self, path: str, payload: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            response = await self._client.post(
                f"{self._api_url}/v2{path}", json=payload, headers=self._headers, timeout=_TIMEOUT_S
            )
        except httpx.HTTPError as exc:
            raise CallNotPlaced(f"Telnyx could not be reached: {type(exc).__name__}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            raise CallNotPlaced(
                f"Telnyx refused the {what} ({response.status_code}): {_errors(answer)}"
            )
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
            raise CallNotPlaced(f"Telnyx answered {path} without data")
        data: dict[str, Any] = answer["data"]
        return data

    async def dial(self, dial: Dial) -> str:
        """Place the call; its call control id, which its webhooks and its stream carry."""
        data = await self._post("/calls", dial.body(), "call")
        call_control_id = data.get("call_control_id")
        if not isinstance(call_control_id, str) or not call_control_id:
            raise CallNotPlaced("Telnyx placed a call without a call_control_id")
        return call_control_id

    async def speak(self, call_control_id: str, text: str) -> None:
        await self._post(
            f"/calls/{quote(call_control_id, safe=':')}/actions/speak",
            {"payload": text, "voice": VOICE, "language": LANGUAGE},
            "speak command",
        )

    async def hang_up(self, call_control_id: str) -> None:
        path = f"/calls/{quote(call_control_id, safe=':')}/actions/hangup"
        await self._post(path, {}, "hangup command")


def _errors(answer: object) -> str:
    """Telnyx's error list (`{"errors": [{"title", "detail"}]}`) as one line."""
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if not isinstance(errors, list):
        return "no detail"
    parts = [
        str(e.get("detail") or e.get("title") or "") for e in errors[:3] if isinstance(e, dict)
    ]
    return "; ".join(p for p in parts if p)[:300] or "no detail"
