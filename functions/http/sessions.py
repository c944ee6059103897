"""Session lookups as a tenant sees them."""

from __future__ import annotations

from voicefleet.contracts import SessionRecord
from voicefleet.http_errors import ApiError
from voicefleet.session_store import SessionStore


async def owned_session(store: SessionStore, tenant: str, session_id: str) -> SessionRecord:
    record = await store.get(session_id)
    # Another tenant's session is indistinguishable from a missing one.
    if record is None or record.tenant != tenant:
        raise ApiError(404, f"no session {session_id!r}", field="session_id")
    return record
