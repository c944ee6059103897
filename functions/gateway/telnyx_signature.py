"""Telnyx's webhook signatures: Ed25519 over `"{telnyx-timestamp}|{raw body}"`, checked with the
account's public key (the `cryptography` package), and a timestamp no older than five minutes
(a captured webhook cannot be replayed later)."""

from __future__ import annotations

import base64
import binascii
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
TOLERANCE_S = 300


def signed_payload(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + b"|" + body


def verify(
    public_key_b64: str,
    signature_b64: str,
    timestamp: str,
    body: bytes,
    *,
    now: float | None = None,
) -> bool:
    """Whether Telnyx signed this body at this time; any malformed part is simply False."""
    try:
        sent_at = int(timestamp)
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if abs((now if now is not None else time.time()) - sent_at) > TOLERANCE_S:
        return False
    try:
        key.verify(signature, signed_payload(timestamp, body))
    except InvalidSignature:
        return False
    return True
