"""Every data tool, as the LLM would call it, against the real Mesh: one tenant's bot tries to
read and change another tenant's notes, applets and profile, and gets nothing."""

from __future__ import annotations

from typing import Any

from bot.mesh_client import MeshClient
from bot.toolbox import Toolbox
from bot.tools.base import ToolContext
from tests.mesh.conftest import SERVICE_TOKEN
from tests.support.mesh_fakes import recording_forwarder


class Writer:
    async def write_html(self, description: str) -> str:
        return f"<html><body>{description}</body></html>"


def bot_tools(url: str, tenant: str, user: str = "ada") -> tuple[Toolbox, list[Any]]:
    forwarder, frames = recording_forwarder()
    mesh = MeshClient(url, SERVICE_TOKEN, tenant=tenant, user=user, timeout_s=5)
    ctx = ToolContext(
        tenant=tenant, user=user, forwarder=forwarder, mesh=mesh, applet_writer=Writer()
    )
    return Toolbox(ctx), frames


async def test_no_tool_lets_one_tenant_reach_anothers_data(mesh_url: str) -> None:
    acme, _ = bot_tools(mesh_url, "acme")
    note = (await acme.call("bot_create_note", {"title": "Acme secret", "content": "plans"}))[
        "created"
    ]
    applet = (
        await acme.call("bot_create_applet", {"title": "Acme app", "description": "private"})
    )["created"]
    await acme.call("bot_update_profile", {"preferences": {"secret": "acme"}})

    intruder, events = bot_tools(mesh_url, "globex")  # same user id, other tenant
    attempts: dict[str, dict[str, Any]] = {
        "bot_get_note": {"note_id": note["id"]},
        "bot_update_note": {"note_id": note["id"], "content": "hacked"},
        "bot_append_to_note": {"note_id": note["id"], "content": "hacked"},
        "bot_delete_note": {"note_id": note["id"]},
        "bot_open_applet": {"applet_id": applet["id"]},
    }
    for name, arguments in attempts.items():
        result = await intruder.call(name, arguments)
        assert "error" in result, (name, result)
        assert "acme" not in str(result).lower() and "plans" not in str(result), (name, result)
    listed = await intruder.call("bot_list_notes", {})
    searched = await intruder.call("bot_search_notes", {"query": "secret"})
    profile = await intruder.call("bot_get_profile", {})
    assert "Acme" not in str(listed) and "Acme" not in str(searched), (listed, searched)
    assert "secret" not in str(profile), profile
    # Nothing of Acme's was opened or shown in the intruder's interface.
    assert note["id"] not in str(events) and applet["id"] not in str(events), events

    # The owner's data is as it was.
    kept = await acme.call("bot_get_note", {"note_id": note["id"]})
    assert "hacked" not in str(kept) and "Acme secret" in str(kept), kept
