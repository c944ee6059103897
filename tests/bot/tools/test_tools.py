"""Tools with their dependencies mocked: the event each one sends and the result it reports."""

from __future__ import annotations

from pipecat.frames.frames import OutputTransportMessageUrgentFrame
from pipecat.processors.frameworks.rtvi import RTVIServerMessageFrame

from bot import interface_events
from bot.toolbox import Toolbox
from bot.tools.base import ToolContext
from tests.support.mesh_fakes import FakeMesh, note, recording_forwarder
from voicefleet.contracts import TransportKind


async def test_forwarder_wire_forms_for_webrtc_and_daily() -> None:
    webrtc, webrtc_frames = recording_forwarder(TransportKind.WEBRTC)
    daily, daily_frames = recording_forwarder(TransportKind.DAILY)
    for forwarder in (webrtc, daily):
        await forwarder.emit_tool_event(interface_events.NOTE_CREATED, {"id": "n1"})
    assert isinstance(webrtc_frames[0], RTVIServerMessageFrame)
    assert webrtc_frames[0].data == {"type": "note.created", "data": {"id": "n1"}}
    assert isinstance(daily_frames[0], OutputTransportMessageUrgentFrame)
    assert daily_frames[0].message == {"type": "note.created", "data": {"id": "n1"}}


async def test_interface_tools_emit_their_events() -> None:
    forwarder, _ = recording_forwarder()
    box = Toolbox(ToolContext(tenant="t", user="u", forwarder=forwarder))
    await box.call("bot_open_view", {"view": "notes"})
    await box.call("bot_focus_window", {"window": "calendar"})
    assert await box.call("bot_play_youtube", {"query": "lofi beats"}) == {"playing": "lofi beats"}
    assert [e["type"] for e in forwarder.sent] == [
        interface_events.VIEW_OPENED,
        interface_events.WINDOW_FOCUSED,
        interface_events.YOUTUBE_PLAY,
    ]
    assert forwarder.sent[2]["data"] == {"query": "lofi beats"}


async def test_time_tool_uses_the_asked_zone_and_refuses_unknown_ones() -> None:
    forwarder, _ = recording_forwarder()
    box = Toolbox(ToolContext(tenant="t", user="u", forwarder=forwarder))
    paris = await box.call("bot_get_time", {"timezone": "Europe/Paris"})
    assert paris["timezone"] == "Europe/Paris" and paris["now"][-6:] in ("+01:00", "+02:00")
    assert (
        "unknown time zone"
        in (await box.call("bot_get_time", {"timezone": "Mars/Olympus"}))["error"]
    )


async def test_end_call_tells_the_interface_and_ends() -> None:
    forwarder, _ = recording_forwarder()
    ended: list[str] = []

    async def end_call(reason: str) -> None:
        ended.append(reason)

    box = Toolbox(ToolContext(tenant="t", user="u", forwarder=forwarder, end_call=end_call))
    assert await box.call("bot_end_call", {"reason": "user said bye"}) == {"ending": True}
    assert ended == ["user said bye"]
    assert forwarder.sent[0]["type"] == interface_events.CALL_ENDING


async def test_note_tools_report_a_summary_and_forward_the_note() -> None:
    mesh = FakeMesh(
        {"appendToNote": note(content="line one\nline two")},
        {"deleteNote": True},
        {"searchNotes": [note(), note("n2", "Meeting notes")]},
    )
    forwarder, _ = recording_forwarder()
    box = Toolbox(ToolContext(tenant="t", user="u", forwarder=forwarder, mesh=mesh))
    appended = await box.call("bot_append_to_note", {"note_id": "n1", "content": "line two"})
    assert appended["updated"]["preview"] == "line one\nline two"
    assert await box.call("bot_delete_note", {"note_id": "n1"}) == {"deleted": "n1"}
    found = await box.call("bot_search_notes", {"query": "meeting"})
    assert [n["id"] for n in found["notes"]] == ["n1", "n2"]
    assert [e["type"] for e in forwarder.sent] == [
        interface_events.NOTE_UPDATED,
        interface_events.NOTE_DELETED,
        interface_events.NOTES_LISTED,
    ]


class Writer:
    async def write_html(self, description: str) -> str:
        return f"<html><body>{description}</body></html>"


async def test_create_applet_writes_saves_and_opens() -> None:
    mesh = FakeMesh({"createApplet": {"id": "a1", "title": "Timer", "html": "<html/>"}})
    forwarder, _ = recording_forwarder()
    ctx = ToolContext(tenant="t", user="u", forwarder=forwarder, mesh=mesh, applet_writer=Writer())
    result = await Toolbox(ctx).call(
        "bot_create_applet", {"title": "Timer", "description": "a countdown timer"}
    )
    assert result == {"created": {"id": "a1", "title": "Timer"}}
    assert mesh.calls[0][1]["html"] == "<html><body>a countdown timer</body></html>"
    assert forwarder.sent == [
        {"type": interface_events.APPLET_CREATED, "data": {"id": "a1", "title": "Timer"}}
    ]
