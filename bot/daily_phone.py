"""Phone calls through a Daily room: a dial-in call forwarded into it, or a call the bot
places from it once joined (Pipecat's Daily dial-in settings and `start_dialout`).

Daily itself holds the phone leg; the bot only joins the room with these settings, so the
rest of the call (greeting, tools, hang-up when the caller leaves) is an ordinary Daily call.
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from pipecat.transports.daily.transport import DailyDialinSettings, DailyTransport

from voicefleet.contracts import DailyDialIn, DailyDialOut


def dialin_settings(dialin: DailyDialIn | None) -> DailyDialinSettings | None:
    """What the transport needs to forward the held call (`pinlessCallUpdate`) once the
    room's SIP endpoint is ready."""
    if dialin is None:
        return None
    return DailyDialinSettings(call_id=dialin.call_id, call_domain=dialin.call_domain)


def dialout_settings(dialout: DailyDialOut) -> dict[str, str]:
    """Daily's `startDialOut` settings: a phone number or a SIP URI."""
    if dialout.phone_number is not None:
        return {"phoneNumber": dialout.phone_number}
    assert dialout.sip_uri is not None  # DailyDialOut holds exactly one
    return {"sipUri": dialout.sip_uri}


def dial_out_when_joined(transport: DailyTransport, dialout: DailyDialOut | None) -> None:
    """Place the call as soon as the bot is in the room (it joins as the room's owner)."""
    if dialout is None:
        return

    async def on_joined(_transport: Any, _data: Any) -> None:
        _session, error = await transport.start_dialout(dialout_settings(dialout))
        if error:
            logger.warning("dial-out failed: {}", error)

    transport.add_event_handler("on_joined", on_joined)
