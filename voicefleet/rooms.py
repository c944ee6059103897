"""Which room URLs a bot may be sent to.

A bot joins whatever room it is given and speaks with the tenant's data, so a room URL is
an outbound-connection target chosen by a client: only https URLs on configured hosts pass.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

# A DNS name: `https://evil.example.com\\.daily.co` must not pass as a subdomain of daily.co.
_HOSTNAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


class RoomNotAllowed(ValueError):
    pass


def check_room_url(url: str, allowed_hosts: list[str]) -> str:
    """Return the URL if allowed; patterns are host globs such as `*.daily.co`."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise RoomNotAllowed(f"room_url is not a valid URL: {exc}") from exc
    if parts.scheme != "https":
        raise RoomNotAllowed("room_url must be an https URL")
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise RoomNotAllowed("room_url must name a host and carry no credentials")
    if not _HOSTNAME.fullmatch(host):
        raise RoomNotAllowed(f"room host {host!r} is not a valid host name")
    if not any(fnmatchcase(host, pattern.lower()) for pattern in allowed_hosts):
        raise RoomNotAllowed(f"room host {host!r} is not in the allowed hosts")
    return url
