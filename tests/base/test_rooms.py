"""The room allow-list: the URLs a probe got through, and the normal form the rest relies on."""

from __future__ import annotations

import pytest

from voicefleet.rooms import RoomNotAllowed, check_room_url

DAILY = ["*.daily.co"]


@pytest.mark.parametrize(
    "url",
    [
        "https://x.daily.co/r\r\nHost: evil.com",
        "https://x.daily.co/r\nX: y",
        "https://x.da\tily.co/r",
        "https://x.daily.co\t/r",
        "https://x.daily.co/r\x00",
        "https://x.daily.co/a b",
        "https://:@x.daily.co/r",
        "https://user@x.daily.co/r",
        "https://user:pw@x.daily.co/r",
        "https://evil.com@x.daily.co/r",
        "https://x.daily.co:0/r",
        "https://x.daily.co:8443/r",
        "https://x.daily.co:65536/r",
        "https://x.daily.co:-1/r",
        "https://x.daily.co:abc/r",
        "http://x.daily.co/r",
        "javascript://x.daily.co/r",
        "https:///r",
        "https://[::1]/r",
        "https://127.0.0.1/r",
        "https://evil.example.com\\.daily.co/r",
        "https://x.daily.co.evil.com/r",
        "https://daily.co.evil.com/r",
        "https://x..daily.co/r",
        "https://xn--zz.daily.co/r",
        "not a url",
        "",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(RoomNotAllowed) as refused:
        check_room_url(url, DAILY)
    assert str(refused.value).startswith("room")  # a message that names what is wrong


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://acme.daily.co/room", "https://acme.daily.co/room"),
        ("HTTPS://ACME.Daily.CO/Room", "https://acme.daily.co/Room"),
        ("https://acme.daily.co:443/room", "https://acme.daily.co/room"),
        ("https://bücher.daily.co/r", "https://xn--bcher-kva.daily.co/r"),
        ("https://\uff21\uff23\uff2d\uff25.daily.co/r", "https://acme.daily.co/r"),  # fullwidth
        ("https://acme.daily.co/r?t=1", "https://acme.daily.co/r?t=1"),
    ],
)
def test_allowed_in_normal_form(url: str, normal: str) -> None:
    assert check_room_url(url, DAILY) == normal


def test_a_port_is_allowed_only_where_configured() -> None:
    allowed = ["*.daily.co", "meet.example.com:8443"]
    assert check_room_url("https://meet.example.com:8443/r", allowed) == (
        "https://meet.example.com:8443/r"
    )
    for url in ("https://meet.example.com/r", "https://x.daily.co:8443/r"):
        with pytest.raises(RoomNotAllowed):
            check_room_url(url, allowed)


def test_patterns_are_matched_case_insensitively_after_idna() -> None:
    assert check_room_url("https://bücher.example.com/r", ["*.EXAMPLE.com"])
    assert check_room_url("https://bücher.example.com/r", ["xn--bcher-kva.example.com"])
