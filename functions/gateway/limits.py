"""Per-tenant launch limits: concurrent sessions and launches per minute, decided in Redis.

Without them a burst from one tenant queues behind a full pool for minutes and crowds out
every other tenant. Like Pipecat Cloud at a deployment's maximum, the gateway answers 429
with Retry-After instead. The check and the reservation are one Lua script with the launch's
idempotency key and record (`admission.py`), so concurrent launches cannot overshoot a limit,
duplicates never hold a slot, and every gateway replica counts the same sessions.
"""

from __future__ import annotations

import json
import math

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# A session limit cannot know when a session ends: this is how soon trying again is sensible.
SESSIONS_RETRY_AFTER_S = 5


class TenantLimits(BaseModel):
    """0 means no limit."""

    model_config = ConfigDict(extra="forbid")

    max_sessions: int = Field(default=0, ge=0)
    launches_per_minute: int = Field(default=0, ge=0)


_OVERRIDES = TypeAdapter(dict[str, TenantLimits])


def parse_overrides(raw: str) -> dict[str, TenantLimits]:
    """`{"acme": {"max_sessions": 10, "launches_per_minute": 60}}` (VOICEFLEET_TENANT_LIMITS)."""
    return _OVERRIDES.validate_python(json.loads(raw or "{}"))


def refusal(tenant: str, limits: TenantLimits, kind: str, count: int, retry_after_s: float) -> str:
    """What a 429 says: which limit the tenant is at."""
    if kind == "sessions":
        return (
            f"tenant {tenant!r} has {count} active sessions, its limit "
            f"({limits.max_sessions}); retry when one ends"
        )
    return (
        f"tenant {tenant!r} started {count} sessions in the last minute, its limit "
        f"({limits.launches_per_minute} a minute)"
    )


def retry_after(kind: str, retry_after_s: float) -> int:
    """Seconds until trying again is sensible (a session limit cannot know when one ends)."""
    return SESSIONS_RETRY_AFTER_S if kind == "sessions" else max(1, math.ceil(retry_after_s))
