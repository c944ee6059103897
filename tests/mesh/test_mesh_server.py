"""The reference Mesh, driven by the bot's own Mesh client and actions, as the tools use it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.actions import ActionError, notes, profile, prompts
from bot.actions import html as applets
from bot.mesh_client import MeshBadInput, MeshClient, MeshNotFound, MeshUnauthorized
from tests.mesh.conftest import SERVICE_TOKEN


def client(
    url: str, tenant: str = "acme", user: str = "ada", token: str = SERVICE_TOKEN
) -> MeshClient:
    return MeshClient(url, token, tenant=tenant, user=user, timeout_s=5)


class Writer:
    async def write_html(self, description: str) -> str:
        return f"<html><body><h1>{description}</h1></body></html>"


async def test_notes_round_trip_through_the_actions(mesh_url: str) -> None:
    mesh = client(mesh_url)
    meeting = await notes.create_note(mesh, "Meeting", "Agenda: budget")
    await notes.create_note(mesh, "Groceries", "milk, eggs")
    assert (await notes.get_note(mesh, meeting["id"]))["content"] == "Agenda: budget"

    appended = await notes.append_to_note(mesh, meeting["id"], "Decide on Q3")
    assert appended["content"] == "Agenda: budget\nDecide on Q3"
    updated = await notes.update_note(mesh, meeting["id"], title="Team meeting")
    assert updated["title"] == "Team meeting" and updated["updatedAt"] >= meeting["updatedAt"]

    listed = await notes.list_notes(mesh, 10)
    assert [n["title"] for n in listed] == ["Team meeting", "Groceries"]  # newest change first
    found = await notes.search_notes(mesh, "q3")
    assert [n["id"] for n in found] == [meeting["id"]]
    assert await notes.search_notes(mesh, "100%") == []  # wildcards are literal

    assert await notes.delete_note(mesh, meeting["id"]) == meeting["id"]
    with pytest.raises(ActionError):
        await notes.get_note(mesh, meeting["id"])
    with pytest.raises(ActionError):
        await notes.delete_note(mesh, meeting["id"])


async def test_applets_and_profile(mesh_url: str) -> None:
    mesh = client(mesh_url)
    applet = await applets.create_applet(mesh, Writer(), "Timer", "a kitchen timer")
    assert "kitchen timer" in (await applets.get_applet(mesh, applet["id"]))["html"]

    empty = await profile.get_profile(mesh)
    assert (empty["userId"], empty["preferences"]) == ("ada", {})
    await profile.update_profile(mesh, display_name="Ada", preferences={"units": "metric"})
    merged = await profile.update_profile(mesh, preferences={"language": "en"})
    assert merged["displayName"] == "Ada"
    assert merged["preferences"] == {"units": "metric", "language": "en"}


async def test_prompts_and_personality_belong_to_the_tenant(mesh_url: str) -> None:
    acme = client(mesh_url)
    await acme.execute(
        'mutation { setPersonality(instructions: "Cheerful and brief.") { instructions } }'
    )
    for name, content in (("notes", "Offer to take notes."), ("calendar", "Dates in ISO.")):
        await acme.execute(
            "mutation($n: String!, $c: String!) { setFunctionalPrompt(name: $n, content: $c) "
            "{ name } }",
            {"n": name, "c": content},
        )
    loaded = await prompts.load_prompts(client(mesh_url, user="someone-else"))
    assert loaded.personality == "Cheerful and brief."
    assert loaded.functional == [("calendar", "Dates in ISO."), ("notes", "Offer to take notes.")]
    other = await prompts.load_prompts(client(mesh_url, tenant="globex"))
    assert (other.personality, other.functional) == (None, [])


async def test_a_tenant_can_never_reach_another_tenants_data(mesh_url: str) -> None:
    acme = client(mesh_url)
    note = await notes.create_note(acme, "Secret plan", "acme only")
    applet = await applets.create_applet(acme, Writer(), "Acme app", "acme only")
    await profile.update_profile(acme, preferences={"secret": "acme"})

    # Same user id in another tenant, by service token; and another tenant's own user token.
    for intruder in (client(mesh_url, tenant="globex"), client(mesh_url, token="eve-token")):
        with pytest.raises(ActionError):
            await notes.get_note(intruder, note["id"])
        with pytest.raises(MeshNotFound):
            await notes.update_note(intruder, note["id"], content="hacked")
        with pytest.raises(MeshNotFound):
            await notes.append_to_note(intruder, note["id"], "hacked")
        with pytest.raises(ActionError):
            await notes.delete_note(intruder, note["id"])
        assert await notes.search_notes(intruder, "plan") == []
        assert await notes.list_notes(intruder, 50) == []
        with pytest.raises(ActionError):
            await applets.get_applet(intruder, applet["id"])
        assert (await profile.get_profile(intruder))["preferences"] == {}

    # Nor another user of the same tenant.
    with pytest.raises(ActionError):
        await notes.get_note(client(mesh_url, user="bob"), note["id"])
    intact = await notes.get_note(acme, note["id"])
    assert (intact["title"], intact["content"]) == ("Secret plan", "acme only")


async def test_a_user_token_speaks_for_its_own_identity_only(mesh_url: str) -> None:
    ada = client(mesh_url, token="ada-token")
    note = await notes.create_note(ada, "From Ada's app")
    # Headers cannot turn a user token into someone else.
    spoofed = client(mesh_url, tenant="globex", user="eve", token="ada-token")
    assert (await notes.get_note(spoofed, note["id"]))["title"] == "From Ada's app"
    assert (await notes.get_note(client(mesh_url), note["id"]))["id"] == note["id"]


async def test_missing_or_wrong_tokens_are_unauthorized(mesh_url: str) -> None:
    with pytest.raises(MeshUnauthorized):
        await profile.get_profile(client(mesh_url, token="not-a-token"))
    async with httpx.AsyncClient() as http:
        response = await http.post(mesh_url, json={"query": "{ profile { userId } }"})
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        bad_tenant = await http.post(
            mesh_url,
            json={"query": "{ profile { userId } }"},
            headers={
                "Authorization": f"Bearer {SERVICE_TOKEN}",
                "X-Voicefleet-Tenant": "acme corp!",
                "X-Voicefleet-User": "ada",
            },
        )
        assert bad_tenant.status_code == 400
        assert "x-voicefleet-tenant" in bad_tenant.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        ('mutation { createNote(title: "  ") { id } }', {}, "title must not be empty"),
        ("mutation($t: String!) { createNote(title: $t) { id } }", {"t": "x" * 201},
         "title is longer than 200 characters"),
        ("query { notes(limit: 0) { id } }", {}, "limit must be from 1 to 100"),
        ("mutation { updateProfile(preferences: [1, 2]) { userId } }", {},
         "preferences must be an object"),
        ("query { notes { nope } }", {}, "Cannot query field 'nope'"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_clear_bad_user_input_error(
    mesh_url: str, query: str, variables: dict[str, Any], message: str
) -> None:
    with pytest.raises(MeshBadInput) as raised:
        await client(mesh_url).execute(query, variables)
    assert message in str(raised.value)


async def test_missing_rows_are_not_found(mesh_url: str) -> None:
    with pytest.raises(MeshNotFound):
        await notes.update_note(client(mesh_url), "00000000-0000-0000-0000-000000000000", title="x")


async def test_malformed_requests_are_4xx_not_500(mesh_url: str) -> None:
    headers = {
        "Authorization": f"Bearer {SERVICE_TOKEN}",
        "X-Voicefleet-Tenant": "acme",
        "X-Voicefleet-User": "ada",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient() as http:
        for body in (b"{not json", b"[]", b'{"query": 5}'):
            response = await http.post(mesh_url, content=body, headers=headers)
            assert 400 <= response.status_code < 500, (body, response.status_code)
        assert (await http.get(mesh_url, headers=headers)).status_code == 405
