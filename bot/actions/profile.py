"""The user's profile and preferences."""

from __future__ import annotations

import json
from typing import Any

from bot.actions import ActionError
from bot.actions.validation import text
from bot.mesh_client import MeshClient

PROFILE = "userId displayName preferences updatedAt"
PREFERENCES_MAX_BYTES = 16_000


async def get_profile(mesh: MeshClient) -> dict[str, Any]:
    data = await mesh.execute(f"query {{ profile {{ {PROFILE} }} }}")
    return dict(data["profile"])


async def update_profile(
    mesh: MeshClient, display_name: object = None, preferences: object = None
) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if display_name is not None:
        variables["displayName"] = text(display_name, "display_name", max_len=100)
    if preferences is not None:
        if not isinstance(preferences, dict):
            raise ActionError("preferences must be an object of names and values")
        if len(json.dumps(preferences)) > PREFERENCES_MAX_BYTES:
            raise ActionError("preferences are too large")
        variables["preferences"] = preferences
    if not variables:
        raise ActionError("give a display name or preferences to change")
    data = await mesh.execute(
        "mutation($displayName: String, $preferences: JSON) { "
        "updateProfile(displayName: $displayName, preferences: $preferences) "
        f"{{ {PROFILE} }} }}",
        variables,
    )
    return dict(data["updateProfile"])
