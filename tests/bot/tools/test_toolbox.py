"""The toolbox: every tool module loads, schemas are sound, bad arguments become errors."""

from __future__ import annotations

import inspect
from typing import Any

from bot import interface_events
from bot.eventbus import EventBus, ToolCalled
from bot.mesh_client import MeshNotFound
from bot.toolbox import TOOL_MODULES, Toolbox, all_tools, argument_schema
from bot.tools.base import ToolContext
from tests.support.mesh_fakes import FakeMesh, note, recording_forwarder

EXPECTED = {
    "bot_create_note", "bot_get_note", "bot_list_notes", "bot_search_notes", "bot_update_note",
    "bot_append_to_note", "bot_delete_note", "bot_create_applet", "bot_open_applet",
    "bot_get_profile", "bot_update_profile", "bot_open_view", "bot_close_view",
    "bot_open_window", "bot_focus_window", "bot_close_window", "bot_play_youtube",
    "bot_get_time", "bot_end_call",
}  # fmt: skip


def context(mesh: FakeMesh | None = None) -> tuple[ToolContext, list[Any]]:
    forwarder, frames = recording_forwarder()
    return ToolContext(tenant="acme", user="ada", forwarder=forwarder, mesh=mesh), frames


def test_every_module_contributes_and_names_are_unique() -> None:
    tools = all_tools()
    assert {t.name for t in tools} == EXPECTED
    assert len(tools) == len(EXPECTED) == 19
    assert len(TOOL_MODULES) == 6
    for tool in tools:
        assert tool.name.startswith("bot_")
        assert tool.schema.description
        params = list(inspect.signature(tool.handler).parameters)
        assert params == ["args", "ctx"], tool.name
        assert inspect.iscoroutinefunction(tool.handler)
        schema = argument_schema(tool)
        assert set(schema["required"]) <= set(schema["properties"])


def test_data_tools_are_offered_only_with_mesh() -> None:
    without, _ = context(None)
    with_mesh, _ = context(FakeMesh())
    assert "bot_create_note" not in Toolbox(without).tools
    assert "bot_open_view" in Toolbox(without).tools
    assert set(Toolbox(with_mesh).tools) == EXPECTED
    assert len(Toolbox(with_mesh).schema().standard_tools) == 19


async def test_bad_arguments_come_back_as_errors_and_nothing_runs() -> None:
    mesh = FakeMesh()
    box = Toolbox(context(mesh)[0])
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("bot_create_note", {}, "'title' is a required property"),
        ("bot_create_note", {"title": 7}, "title: 7 is not of type 'string'"),
        ("bot_create_note", {"title": "x" * 201}, "title"),
        ("bot_create_note", {"title": "a", "color": "red"}, "Additional properties"),
        ("bot_list_notes", {"limit": 0}, "limit"),
        ("bot_open_view", {"view": "kitchen"}, "is not one of"),
        ("bot_create_note", {"title": "a", "content": "x" * 300_000}, "too large"),
        ("bot_fly", {}, "no tool named"),
    ]
    for name, arguments, message in cases:
        result = await box.call(name, arguments)
        assert message in result.get("error", ""), (name, result)
    assert mesh.calls == []


async def test_mesh_and_handler_failures_are_results_not_exceptions() -> None:
    mesh = FakeMesh(MeshNotFound("no such note"), RuntimeError("boom"))
    bus = EventBus()
    seen: list[ToolCalled] = []

    async def record(event: ToolCalled) -> None:
        seen.append(event)

    bus.subscribe(ToolCalled, record)
    box = Toolbox(context(mesh)[0], bus=bus)
    assert await box.call("bot_get_note", {"note_id": "n9"}) == {"error": "no such note"}
    failed = await box.call("bot_get_note", {"note_id": "n9"})
    assert "failed unexpectedly (RuntimeError)" in failed["error"]
    assert [e.name for e in seen] == ["bot_get_note", "bot_get_note"]


async def test_a_good_call_runs_the_action_and_emits_the_event() -> None:
    mesh = FakeMesh({"createNote": note(title="Meeting")})
    ctx, frames = context(mesh)
    result = await Toolbox(ctx).call("bot_create_note", {"title": "Meeting"})
    assert result == {"created": {"id": "n1", "title": "Meeting", "preview": ""}}
    assert ctx.forwarder.sent == [
        {"type": interface_events.NOTE_CREATED, "data": note(title="Meeting")}
    ]
    assert len(frames) == 1
