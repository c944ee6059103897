"""The offer check: real offers pass, what a probe got answered is refused with a reason."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from tests.support.sdp import AUDIO_OFFER_SDP, NOT_OFFERS
from voicefleet.sdp import InvalidOffer, check_offer


async def test_an_aiortc_offer_passes() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio")
        pc.createDataChannel("chat")
        await pc.setLocalDescription(await pc.createOffer())
        check_offer(pc.localDescription.sdp)
    finally:
        await pc.close()


def test_a_browser_shaped_offer_passes_with_either_line_ending() -> None:
    check_offer(AUDIO_OFFER_SDP)
    check_offer(AUDIO_OFFER_SDP.replace("\r\n", "\n"))


@pytest.mark.parametrize("sdp", NOT_OFFERS.values(), ids=NOT_OFFERS.keys())
def test_not_an_offer(sdp: str) -> None:
    with pytest.raises(InvalidOffer) as refused:
        check_offer(sdp)
    assert str(refused.value).startswith("sdp ")


@pytest.mark.parametrize("sdp", [NOT_OFFERS["v0-only"], NOT_OFFERS["video-only"]])
async def test_the_runner_refuses_it_too_and_makes_no_connection(sdp: str) -> None:
    """Pipecat's handler itself answers `v=0` with an empty answer: the runner checks first."""
    from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler

    from runner.webrtc_signalling import answer
    from voicefleet.signalling import SignalMessage

    connections: list[object] = []

    async def on_connection(connection: object) -> None:
        connections.append(connection)

    handler = SmallWebRTCRequestHandler()
    try:
        message = SignalMessage(kind="offer", payload={"sdp": sdp, "type": "offer"})
        reply = await answer(handler, message, on_connection)
    finally:
        await handler.close()
    assert (reply.ok, reply.status) == (False, 400)
    assert reply.error is not None and reply.error.startswith("sdp ")
    assert connections == []
