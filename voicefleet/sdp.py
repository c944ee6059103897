"""What makes an SDP a usable offer for a voice bot, checked before anything is started.

aiortc accepts almost any text as an SDP (`v=0` alone, or `hello`, parse to a description
with no media) and answers it with an equally empty answer, so a bad offer used to get a
200 and leave its session `starting` with a peer connection that could never carry audio.
This is the structure of RFC 8866 that an answer depends on: `<type>=<value>` lines,
`v=0` first, the session's `o=`, `s=` and `t=`, and at least one audio media section that
is not rejected (port 0). Codecs and transports are left to the WebRTC stack, which knows
them; the gateway and the runner both call this, so neither relies on the other.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"[a-z]=[^\x00-\x08\x0a-\x1f\x7f]*")
# m=<media> <port>[/<number of ports>] <proto> <fmt> ...
_MEDIA = re.compile(r"m=(?P<media>[a-z]+) (?P<port>\d{1,5})(/\d+)? (?P<proto>[A-Za-z0-9/]+)( \S+)+")
_SESSION_REQUIRED = ("o", "s", "t")


class InvalidOffer(ValueError):
    """The offer cannot be answered; the message names the problem."""


def check_offer(sdp: str) -> None:
    lines = sdp.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "v=0":
        raise InvalidOffer("sdp must start with the line v=0")
    session: set[str] = set()
    audio = False
    in_media = False
    for number, line in enumerate(lines, start=1):
        if not _LINE.fullmatch(line):
            raise InvalidOffer(f"sdp line {number} is not of the form <type>=<value>")
        kind = line[0]
        if kind == "m":
            media = _MEDIA.fullmatch(line)
            if media is None:
                raise InvalidOffer(f"sdp line {number} is not a media description")
            if int(media["port"]) > 65535:
                raise InvalidOffer(f"sdp line {number} has a port out of range")
            in_media = True
            audio = audio or (media["media"] == "audio" and media["port"] != "0")
        elif not in_media:
            session.add(kind)
    missing = [f"{kind}=" for kind in _SESSION_REQUIRED if kind not in session]
    if missing:
        raise InvalidOffer(f"sdp has no {', '.join(missing)} line in its session section")
    if not audio:
        raise InvalidOffer("sdp offers no audio (an m=audio section with a port other than 0)")
