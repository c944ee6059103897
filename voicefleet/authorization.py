"""Reading `Authorization: Bearer <token>` the way RFC 6750 spells it, in one place.

Every service that takes a bearer token (gateway, admin, Mesh) reads it here, so a header a
client mangled (non-ASCII, a tab instead of a space, two tokens, two headers) is the same
plain refusal everywhere, said before any key is compared, rather than whatever each
comparison happens to do with it.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence

# b64token (RFC 6750 §2.1): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# The scheme, one or more spaces, the token; whitespace around the value is not part of it.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z]+) +(?P<token>\S+)")


class BadAuthorization(ValueError):
    """The request carries no usable bearer token; the message says what to send."""


def bearer_token(values: Sequence[str]) -> str:
    """The token of the request's one Authorization header (all its values, as received)."""
    if not values:
        raise BadAuthorization("missing bearer token: send Authorization: Bearer <key>")
    if len(values) > 1:
        raise BadAuthorization("send one Authorization header, not several")
    found = _CREDENTIALS.fullmatch(values[0].strip(" \t"))
    if found is None or found["scheme"].lower() != "bearer":
        raise BadAuthorization("missing bearer token: send Authorization: Bearer <key>")
    token = found["token"]
    if not _TOKEN.fullmatch(token):
        raise BadAuthorization(
            "malformed bearer token: use only A-Z a-z 0-9 - . _ ~ + / and trailing ="
        )
    return token


def bearer_is(values: Sequence[str], expected: str) -> bool:
    """Whether the request's one bearer token is `expected`, compared in constant time
    (a metrics token: one secret, no tenants)."""
    try:
        token = bearer_token(values)
    except BadAuthorization:
        return False
    return hmac.compare_digest(token.encode(), expected.encode())
