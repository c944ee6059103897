"""Which webhook URLs voicefleet will send to: public https endpoints only.

A tenant's URL is checked when it is registered and its host is checked again on every
connection (the delivery client connects only through `GuardedBackend`), so a DNS name that
later resolves to a private address, or a redirect to one, reaches nothing: loopback,
private, link-local (cloud metadata at 169.254.169.254 among them), unique-local, shared,
reserved and multicast addresses are all refused. The dev stack may allow loopback receivers
(and plain http to them) by an explicit setting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from urllib.parse import urlsplit

import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

URL_MAX = 2000
RESOLVE_TIMEOUT_S = 3.0


class UnsafeAddress(ValueError):
    """The URL, or what its host resolves to, is not one voicefleet sends to."""


def address_allowed(ip: str, *, allow_loopback: bool) -> bool:
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress(f"host {host!r} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str, *, allow_loopback: bool) -> None:
    """Raises UnsafeAddress saying why the URL is refused."""
    if len(url) > URL_MAX:
        raise UnsafeAddress(f"url is longer than {URL_MAX} characters")
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise UnsafeAddress("url must be an absolute https URL")
    if parts.username or parts.password:
        raise UnsafeAddress("url must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeAddress("url has an invalid port") from exc
    addresses = await resolve(host, port)
    loopback_only = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and allow_loopback and loopback_only
    ):
        raise UnsafeAddress("url must use https")
    for address in addresses:
        if not address_allowed(address, allow_loopback=allow_loopback):
            raise UnsafeAddress(f"url's host {host!r} resolves to a non-public address")


class GuardedBackend(AsyncNetworkBackend):
    """httpcore's network backend, connecting only to allowed addresses (checked after DNS,
    at connect time: nothing resolved later can slip past a check made earlier)."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_loopback = allow_loopback

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await resolve(host, port)
        allowed = [a for a in addresses if address_allowed(a, allow_loopback=self._allow_loopback)]
        if not allowed or len(allowed) < len(addresses):
            raise httpcore.ConnectError(f"{host} resolves to a non-public address")
        return await self._inner.connect_tcp(
            allowed[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
