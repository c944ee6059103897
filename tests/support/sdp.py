"""SDP offers as real clients send them, for tests that need a valid one."""

from __future__ import annotations

# A trimmed offer of the shape browsers and aiortc send: one audio section, one data channel.
AUDIO_OFFER_SDP = (
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66"
    ":77:88:99:AA:BB:CC:DD:EE:FF\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sendrecv\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:1\r\n"
    "a=sctp-port:5000\r\n"
)

# What a probe sent and got an "answer" to: no media at all, or not SDP at all.
NOT_OFFERS = {
    "v0-only": "v=0",
    "plain-text": "hello, bot",
    "no-media": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
    "video-only": AUDIO_OFFER_SDP.replace("m=audio", "m=video"),
    "audio-rejected": AUDIO_OFFER_SDP.replace("m=audio 9", "m=audio 0"),
    "bad-media-line": AUDIO_OFFER_SDP.replace("m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "m=audio x"),
    "not-lines": AUDIO_OFFER_SDP.replace("s=-", "session name"),
    "no-origin": AUDIO_OFFER_SDP.replace("o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n", ""),
    "nul-byte": AUDIO_OFFER_SDP.replace("s=-", "s=\x00"),
}
