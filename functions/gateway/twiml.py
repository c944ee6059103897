"""The TwiML the gateway answers Twilio's call webhooks with (written by the `twilio` package),
and the TeXML (Telnyx's dialect of it) it answers Telnyx's with.

Every answer is deliberate: connect the call to its bot, or say that all lines are busy and
hang up. None leaves a caller in silence.
"""

from __future__ import annotations

from starlette.responses import Response
from twilio.twiml.voice_response import Connect, VoiceResponse

BUSY_MESSAGE = "All our lines are busy right now. Please call again later."
TWIML = "application/xml"


def _answer(response: VoiceResponse) -> Response:
    return Response(str(response), media_type=TWIML)


def connect_stream_twiml(stream_url: str, token: str, *, action_url: str) -> str:
    """Open a bidirectional media stream to the bot; the one-time token travels as a stream
    parameter (Twilio hands it back in the stream's `start` message), never in the URL. When
    the stream ends, Twilio asks `action_url` what next (`after_stream`)."""
    response = VoiceResponse()
    connect = Connect(action=action_url)
    stream = connect.stream(url=stream_url)
    stream.parameter(name="token", value=token)
    response.append(connect)
    return str(response)


def connect_stream(stream_url: str, token: str, *, action_url: str) -> Response:
    return Response(
        connect_stream_twiml(stream_url, token, action_url=action_url), media_type=TWIML
    )


def busy() -> Response:
    response = VoiceResponse()
    response.say(BUSY_MESSAGE)
    response.hangup()
    return _answer(response)


def hang_up() -> Response:
    response = VoiceResponse()
    response.hangup()
    return _answer(response)


def texml_stream(stream_url: str, token: str, *, after_url: str) -> Response:
    """Telnyx's TeXML (TwiML's dialect): a bidirectional stream of 8 kHz μ-law (RTP
    payloads) to the bot, with the one-time token as a stream parameter. TeXML's `<Connect>`
    has no `action`: it goes on to the next verb when the stream stops, a `<Redirect>` that
    asks `after_url` what next (busy, or hang up)."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url, bidirectional_mode="rtp", bidirectional_codec="PCMU")
    stream.parameter(name="token", value=token)
    response.append(connect)
    response.redirect(after_url, method="POST")
    return _answer(response)
