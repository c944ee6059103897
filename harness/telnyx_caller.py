"""A scripted phone caller that speaks to the fleet as Telnyx does: a TeXML voice webhook
signed with Ed25519 (`telnyx-signature-ed25519` over `"{timestamp}|{body}"`), then Telnyx's
media stream (https://developers.telnyx.com/docs/voice/programmable-voice/media-streaming):
`connected`, `start` (stream_id, call_control_id, media_format, custom_parameters), `media`
with 20 ms of base64 PCMU paced in real time, `dtmf`, `stop`. The bot answers with `media` and
`clear` (Telnyx's carry no stream id).

It also answers a call the fleet placed through Call Control (`answer_placed`): the stream
opens at the Dial's `stream_url`, and its `start` carries the Dial's `client_state` and the
call control id instead of TeXML's custom parameters."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.twilio_caller import RATE, Answer, TwilioCaller, parse_twiml


class TelnyxCaller(TwilioCaller):
    def __init__(
        self, gateway_url: str, *, account_sid: str, signing_key: Ed25519PrivateKey, **kwargs: Any
    ) -> None:
        super().__init__(gateway_url, account_sid=account_sid, auth_token="", **kwargs)
        self.signing_key = signing_key
        self.call_control_id = "v3:" + uuid.uuid4().hex
        self.stream_sid = str(uuid.uuid4())
        self.client_state: str | None = None

    def answer_placed(self, call_control_id: str, dial: dict[str, Any]) -> None:
        """Take the call a Dial placed: `connect` then opens its stream as Telnyx would."""
        self.call_control_id = call_control_id
        self.client_state = dial.get("client_state")
        self.answer = Answer(200, "", stream_url=dial["stream_url"])

    async def dial(self, *, signature: str | None = None, timestamp: str | None = None) -> Answer:
        self.answer = await self._texml_request(
            f"{self.gateway_url}/telephony/telnyx", signature=signature, timestamp=timestamp
        )
        return self.answer

    async def follow_redirect(self) -> Answer:
        """What TeXML does once the stream has stopped: ask the answer's `<Redirect>`."""
        assert self.answer is not None and self.answer.redirect_url, self.answer
        return await self._texml_request(self.answer.redirect_url)

    async def _texml_request(
        self, url: str, *, signature: str | None = None, timestamp: str | None = None
    ) -> Answer:
        body = urlencode(self.webhook_params()).encode()
        sent_at = timestamp or str(int(time.time()))
        signed = base64.b64encode(self.signing_key.sign(sent_at.encode() + b"|" + body)).decode()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "telnyx-signature-ed25519": signature or signed,
            "telnyx-timestamp": sent_at,
        }
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(url, content=body, headers=headers)
        return parse_twiml(response.status_code, response.text)

    def connected_message(self) -> dict[str, Any]:
        return {"event": "connected", "version": "1.0.0"}

    def start_message(self, parameters: dict[str, str]) -> dict[str, Any]:
        return {
            "event": "start",
            "sequence_number": str(self._next_sequence()),
            "start": {
                "user_id": str(uuid.uuid4()),
                "call_control_id": self.call_control_id,
                "client_state": self.client_state,
                "media_format": {"encoding": "PCMU", "sample_rate": RATE, "channels": 1},
                **({"custom_parameters": parameters} if parameters else {}),
            },
            "stream_id": self.stream_sid,
        }

    def media_message(self, payload: bytes) -> dict[str, Any]:
        return {
            "event": "media",
            "sequence_number": str(self._next_sequence()),
            "media": {
                "track": "inbound",
                "chunk": str(self._chunk),
                "timestamp": str(int((time.monotonic() - self._started) * 1000)),
                "payload": base64.b64encode(payload).decode(),
            },
            "stream_id": self.stream_sid,
        }

    def dtmf_message(self, digit: str) -> dict[str, Any]:
        return {
            "event": "dtmf",
            "stream_id": self.stream_sid,
            "sequence_number": str(self._next_sequence()),
            "dtmf": {"digit": digit},
        }

    def stop_message(self) -> dict[str, Any]:
        return {
            "event": "stop",
            "sequence_number": str(self._next_sequence()),
            "stop": {"user_id": "", "call_control_id": self.call_control_id},
            "stream_id": self.stream_sid,
        }
