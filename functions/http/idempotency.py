"""Idempotency-Key: the client's name for one request, and a fingerprint of what it asked.

A retry carries the same key and the same request; the same key with another request is a
client bug that must not silently get the first request's answer (IETF Idempotency-Key
draft, Stripe). So each key travels with a digest of the method, path and JSON body.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from voicefleet.http_errors import ApiError

MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Idempotency:
    """A request's Idempotency-Key (or a CloudEvent's source + id) and what it asked for."""

    key: str
    fingerprint: str


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS:
        raise ApiError(
            400,
            f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters",
            field="Idempotency-Key",
        )
    return key


def fingerprint(request: Request, data: dict[str, Any]) -> str:
    """The same digest for the same JSON however its keys are ordered or spaced."""
    try:
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except RecursionError as exc:
        raise ApiError(400, "request body is nested too deeply") from exc
    target = f"{request.method} {request.url.path}\n"
    return hashlib.sha256((target + canonical).encode()).hexdigest()


def idempotency(request: Request, data: dict[str, Any]) -> Idempotency | None:
    """The request's key with its fingerprint, or None when it sent no key."""
    key = idempotency_key(request)
    return None if key is None else Idempotency(key, fingerprint(request, data))
