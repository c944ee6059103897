"""The Daily room properties a phone call through Daily needs (`createDailyRoom` sessions).

A dial-in call is forwarded into the room over SIP: the room gets one SIP endpoint in
`dial-in` mode, which the bot hands to Daily once joined (Pipecat's dial-in settings). A
dial-out needs the room to allow it; the bot, as the room's owner, places the call."""

from __future__ import annotations

from typing import Any

from voicefleet.contracts import SessionOverrides


def phone_room_properties(overrides: SessionOverrides) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if overrides.dialin is not None:
        properties["sip"] = {"display_name": "caller", "sip_mode": "dial-in", "num_endpoints": 1}
    if overrides.dialout is not None:
        properties["enable_dialout"] = True
    return properties
