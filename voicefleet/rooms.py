"""Which room URLs a bot may be sent to.

A bot joins whatever room it is given and speaks with the tenant's data, so a room URL is
an outbound-connection target chosen by a client: only https URLs on configured hosts pass.

The URL is parsed once and what is returned is rebuilt from the parsed parts, so the bot,
the room lease and the admin address all use one normal form. Python's `urlsplit` silently
drops tabs and newlines (WHATWG), so control characters are refused before it sees the URL:
otherwise `https://x.daily.co/r\\r\\nHost: evil.com` would pass and travel on as written.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from urllib.parse import SplitResult, urlsplit

import idna

# A DNS name after IDNA: `https://evil.example.com\\.daily.co` must not pass as a subdomain.
_HOSTNAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
# C0 controls, space, DEL and the C1 controls: none belongs in a URL a client sends.
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
_DEFAULT_PORT = 443


class RoomNotAllowed(ValueError):
    pass


def _split(url: str) -> SplitResult:
    if _CONTROL.search(url):
        raise RoomNotAllowed("room_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise RoomNotAllowed(f"room_url is not a valid URL: {exc}") from exc
    if parts.scheme.lower() != "https":
        raise RoomNotAllowed("room_url must be an https URL")
    if "@" in parts.netloc:
        # `https://:@host/` has an empty user and password: still userinfo, still refused.
        raise RoomNotAllowed("room_url must carry no credentials (user or password)")
    return parts


def _host(parts: SplitResult) -> str:
    """The host as an IDNA A-label in lower case (`bücher.daily.co` → `xn--bcher-kva…`)."""
    raw = parts.hostname or ""
    if not raw:
        raise RoomNotAllowed("room_url must name a host")
    try:
        host = idna.encode(raw, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise RoomNotAllowed(f"room host {raw!r} is not a valid host name: {exc}") from exc
    if not _HOSTNAME.fullmatch(host):
        raise RoomNotAllowed(f"room host {raw!r} is not a valid host name")
    return host


def _allowed(host: str, port: int, patterns: list[str]) -> bool:
    """A pattern is a host glob (`*.daily.co`, port 443 only) or `glob:port`."""
    for pattern in patterns:
        glob, sep, wanted = pattern.strip().lower().rpartition(":")
        if not sep or not wanted.isdigit():
            glob, wanted = pattern.strip().lower(), str(_DEFAULT_PORT)
        if int(wanted) == port and fnmatchcase(host, glob):
            return True
    return False


def check_room_url(url: str, allowed_hosts: list[str]) -> str:
    """The URL in normal form if allowed (lower-case scheme and host, IDNA, no `:443`)."""
    parts = _split(url)
    host = _host(parts)
    port = parts.port if parts.port is not None else _DEFAULT_PORT
    if port == 0:
        raise RoomNotAllowed("room_url port 0 is not a port")
    if not _allowed(host, port, allowed_hosts):
        where = host if port == _DEFAULT_PORT else f"{host}:{port}"
        raise RoomNotAllowed(f"room host {where!r} is not in the allowed hosts")
    netloc = host if port == _DEFAULT_PORT else f"{host}:{port}"
    return SplitResult("https", netloc, parts.path, parts.query, parts.fragment).geturl()
