"""Placing a call through Twilio's REST API with the `twilio` package's own async client.

`TWILIO_API_URL` points the client elsewhere than https://api.twilio.com (a regional edge, or
a stand-in that speaks Twilio's API in tests); the client, its request encoding and its error
handling are Twilio's either way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

# Twilio's events for a call's progress: what `POST /telephony/twilio/status` is sent.
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
_TIMEOUT_S = 10.0
# How long an outbound call rings: well inside the runner's wait for its stream
# (RUNNER_FIRST_OFFER_TIMEOUT_S, 60 s), which holds a runner while the phone rings.
RING_TIMEOUT_S = 40


class CallNotPlaced(Exception):
    """Twilio refused the call or could not be reached; the message says which."""


class _RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's async HTTP client, sending each request to `base_url` instead of Twilio's host."""

    def __init__(self, base_url: str | None) -> None:
        # No pooled session: one is made per request, on the loop that makes it.
        super().__init__(pool_connections=False, timeout=_TIMEOUT_S)
        self._base_url = base_url.rstrip("/") if base_url else None

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self._base_url:
            parts = urlsplit(url)
            url = self._base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return await super().request(method, url, *args, **kwargs)


async def place_call(
    *,
    account_sid: str,
    auth_token: str,
    to: str,
    from_: str,
    twiml: str,
    status_callback: str,
    api_url: str | None = None,
) -> str:
    """Twilio's "create call" with the TwiML to run once answered; returns the CallSid."""
    client = Client(account_sid, auth_token, http_client=_RebasedHttpClient(api_url))
    try:
        call = await client.calls.create_async(
            to=to,
            from_=from_,
            twiml=twiml,
            status_callback=status_callback,
            status_callback_event=STATUS_EVENTS,
            status_callback_method="POST",
            timeout=RING_TIMEOUT_S,
        )
    except TwilioRestException as exc:
        raise CallNotPlaced(f"Twilio refused the call ({exc.status}): {exc.msg}") from exc
    except (TwilioException, ClientError, TimeoutError) as exc:
        raise CallNotPlaced(f"Twilio could not be reached: {type(exc).__name__}") from exc
    return str(call.sid)
