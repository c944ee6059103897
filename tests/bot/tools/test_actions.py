"""Actions with a mocked Mesh client: what they send, what they return, what they refuse."""

from __future__ import annotations

import pytest

from bot.actions import ActionError, html, notes, profile, prompts
from tests.support.mesh_fakes import FakeMesh, note


async def test_create_note_trims_and_sends_title_and_content() -> None:
    mesh = FakeMesh({"createNote": note(title="Meeting")})
    created = await notes.create_note(mesh, "  Meeting ", "agenda")
    assert created["id"] == "n1"
    query, variables = mesh.calls[0]
    assert "createNote" in query and variables == {"title": "Meeting", "content": "agenda"}


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (42, "must be text"),
        ("x" * 201, "longer"),
    ],
)
async def test_create_note_refuses_bad_titles_without_calling_mesh(
    title: object, message: str
) -> None:
    mesh = FakeMesh()
    with pytest.raises(ActionError, match=message):
        await notes.create_note(mesh, title)
    assert mesh.calls == []


async def test_missing_note_is_an_action_error() -> None:
    with pytest.raises(ActionError, match="no such note"):
        await notes.get_note(FakeMesh({"note": None}), "n404")
    with pytest.raises(ActionError, match="no such note"):
        await notes.delete_note(FakeMesh({"deleteNote": False}), "n404")


async def test_update_needs_something_to_change() -> None:
    with pytest.raises(ActionError, match="new title or new content"):
        await notes.update_note(FakeMesh(), "n1")


async def test_list_limit_is_bounded() -> None:
    with pytest.raises(ActionError, match="limit"):
        await notes.list_notes(FakeMesh(), 500)
    listed = await notes.list_notes(FakeMesh({"notes": [note(), note("n2")]}), 2)
    assert [n["id"] for n in listed] == ["n1", "n2"]


def test_summary_shortens_long_content() -> None:
    long = note(content="x" * 1000)
    assert len(notes.summary(long)["preview"]) == notes.PREVIEW_CHARS + 1


async def test_profile_preferences_must_be_an_object() -> None:
    with pytest.raises(ActionError, match="preferences"):
        await profile.update_profile(FakeMesh(), preferences=["metric"])
    with pytest.raises(ActionError, match="display name or preferences"):
        await profile.update_profile(FakeMesh())


async def test_prompts_compose_the_system_instruction() -> None:
    mesh = FakeMesh(
        {
            "personality": {"instructions": "Cheerful and brief."},
            "functionalPrompts": [{"name": "notes", "content": "Offer to save summaries."}],
        }
    )
    loaded = await prompts.load_prompts(mesh)
    text = loaded.system_instruction("Base.")
    assert text.startswith("Base.")
    assert "Cheerful and brief." in text and "notes: Offer to save summaries." in text


class Writer:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    async def write_html(self, description: str) -> str:
        return self.answer


async def test_applet_html_is_unfenced_and_saved() -> None:
    mesh = FakeMesh({"createApplet": {"id": "a1", "title": "Timer", "html": "<html></html>"}})
    await html.create_applet(
        mesh, Writer("```html\n<html><body>t</body></html>\n```"), "Timer", "a timer"
    )
    assert mesh.calls[0][1]["html"] == "<html><body>t</body></html>"


async def test_applet_fragment_becomes_a_document_and_empty_is_refused() -> None:
    assert html.clean_html("<div>hi</div>", "T").startswith("<!DOCTYPE html><html>")
    with pytest.raises(ActionError, match="empty"):
        await html.create_applet(FakeMesh(), Writer("   "), "T", "d")
