"""API keys: which tenant a bearer key speaks for, checked in constant time."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from voicefleet.authorization import BadAuthorization, bearer_token
from voicefleet.http_errors import ApiError


def parse_keys(pairs: list[str], single: str | None, *, variable: str) -> dict[str, str]:
    """`tenant:key` entries (and one dev key for the tenant "default") as {key: tenant}."""
    keys: dict[str, str] = {}
    for pair in pairs:
        tenant, sep, key = pair.partition(":")
        if not sep or not tenant or not key:
            raise ValueError(f"{variable} entries must look like tenant:key")
        keys[key] = tenant
    if single:
        keys[single] = "default"
    return keys


def bearer(request: Request) -> str:
    try:
        return bearer_token(request.headers.getlist("authorization"))
    except BadAuthorization as exc:
        raise ApiError(401, str(exc), field="Authorization") from exc


def tenant_for(key: str, keys: dict[str, str]) -> str | None:
    # Every entry is compared, so the time taken does not tell which prefix matched.
    found: str | None = None
    for known, tenant in keys.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            found = tenant
    return found
