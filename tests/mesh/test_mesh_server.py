"""The reference Mesh, driven by the bot's own Mesh client and actions, as the tools use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect

from bot.actions import ActionError, notes, profile, prompts
from bot.actions import html as applets
from bot.mesh_client import MeshBadInput, MeshClient, MeshNotFound, MeshUnauthorized
from mesh.app import create_app
from mesh.settings import MeshSettings
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
    globex = client(mesh_url, tenant="globex")
    other = await prompts.load_prompts(globex)
    assert (other.personality, other.functional) == (None, [])

    # Globex's changes stay in globex: it cannot delete or overwrite acme's prompts.
    assert await globex.execute('mutation { deleteFunctionalPrompt(name: "notes") }') == {
        "deleteFunctionalPrompt": False
    }
    await globex.execute('mutation { setPersonality(instructions: "Grumpy.") { instructions } }')
    assert (await prompts.load_prompts(globex)).personality == "Grumpy."
    again = await prompts.load_prompts(acme)
    assert again == loaded
    assert await acme.execute('mutation { deleteFunctionalPrompt(name: "notes") }') == {
        "deleteFunctionalPrompt": True
    }
    assert (await prompts.load_prompts(acme)).functional == [("calendar", "Dates in ISO.")]


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
        with pytest.raises(MeshNotFound):
            await intruder.execute(
                'mutation($id: ID!) { updateApplet(id: $id, html: "<p>x</p>") { id } }',
                {"id": applet["id"]},
            )
        gone = await intruder.execute("mutation($id: ID!) { deleteApplet(id: $id) }", applet)
        assert gone == {"deleteApplet": False}
        assert await intruder.execute("{ applets { id } }") == {"applets": []}
        assert (await profile.get_profile(intruder))["preferences"] == {}

    # Nor another user of the same tenant.
    with pytest.raises(ActionError):
        await notes.get_note(client(mesh_url, user="bob"), note["id"])
    intact = await notes.get_note(acme, note["id"])
    assert (intact["title"], intact["content"]) == ("Secret plan", "acme only")
    kept = await acme.execute("query($id: ID!) { applet(id: $id) { title html } }", applet)
    assert kept["applet"]["title"] == "Acme app" and "acme only" in kept["applet"]["html"]


async def test_the_same_user_id_in_two_tenants_has_two_sets_of_data(mesh_url: str) -> None:
    acme, globex = client(mesh_url, tenant="acme"), client(mesh_url, tenant="globex")
    await notes.create_note(acme, "Acme's")
    await notes.create_note(globex, "Globex's")
    await profile.update_profile(acme, display_name="Ada of Acme")
    assert [n["title"] for n in await notes.list_notes(acme)] == ["Acme's"]
    assert [n["title"] for n in await notes.list_notes(globex)] == ["Globex's"]
    assert (await profile.get_profile(globex))["displayName"] is None
    # Another user of acme, by their own token, sees none of Ada's either.
    assert await notes.list_notes(client(mesh_url, token="bob-token==")) == []


async def test_a_user_token_speaks_for_its_own_identity_only(mesh_url: str) -> None:
    ada = client(mesh_url, token="ada-token")
    note = await notes.create_note(ada, "From Ada's app")
    # Headers cannot turn a user token into someone else.
    spoofed = client(mesh_url, tenant="globex", user="eve", token="ada-token")
    assert (await notes.get_note(spoofed, note["id"]))["title"] == "From Ada's app"
    assert await notes.list_notes(client(mesh_url, tenant="not valid!", token="ada-token"))
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
    # The service token needs both identity headers, and valid ones.
    for tenant, user in (("acme corp!", "ada"), ("a" * 65, "ada"), ("acme", "")):
        with pytest.raises(MeshBadInput, match="x-voicefleet-"):
            await profile.get_profile(client(mesh_url, tenant=tenant, user=user))


# (query, variables, what the message says): each one a mistake the bot's own validation
# would have caught, sent directly. One server for them all: starting one per case is slow.
BAD_INPUT: list[tuple[str, dict[str, Any], str]] = [
    ('mutation { createNote(title: "  ") { id } }', {}, "title must not be empty"),
    ("mutation($t: String!) { createNote(title: $t) { id } }", {"t": "x" * 201},
     "title is longer than 200 characters"),
    ("query { notes(limit: 0) { id } }", {}, "limit must be from 1 to 100"),
    ("mutation { updateProfile(preferences: [1, 2]) { userId } }", {},
     "preferences must be an object"),
    ("query { notes { nope } }", {}, "Cannot query field 'nope'"),
    ("query($l: Int) { notes(limit: $l) { id } }", {"l": "ten"}, "Int cannot represent"),
    ("mutation($t: String!) { createNote(title: $t) { id } }", {"t": "a\x00b"},
     "title must not contain NUL"),
    ("mutation($p: JSON) { updateProfile(preferences: $p) { userId } }",
     {"p": {"big": "x" * 16_000}}, "preferences are larger than 16000 bytes"),
    ("mutation($p: JSON) { updateProfile(preferences: $p) { userId } }",
     {"p": {"deep": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}, "preferences nest deeper"),
    ("mutation($h: String!) { createApplet(title: \"A\", html: $h) { id } }",
     {"h": "x" * 500_001}, "html is longer than 500000 characters"),
    ('mutation { setFunctionalPrompt(name: "", content: "x") { name } }', {},
     "name must not be empty"),
]  # fmt: skip


async def test_bad_input_is_a_clear_bad_user_input_error(mesh_url: str) -> None:
    mesh = client(mesh_url)
    for query, variables, message in BAD_INPUT:
        with pytest.raises(MeshBadInput) as raised:
            await mesh.execute(query, variables)
        assert message in str(raised.value), (query, str(raised.value))
    assert await notes.list_notes(mesh) == []  # and nothing was stored on the way


async def test_missing_rows_are_not_found(mesh_url: str) -> None:
    mesh = client(mesh_url)
    with pytest.raises(MeshNotFound):
        await notes.update_note(mesh, "00000000-0000-0000-0000-000000000000", title="x")
    with pytest.raises(MeshNotFound):
        await notes.append_to_note(mesh, "not-a-uuid", "x")
    assert await mesh.execute('{ note(id: "not-a-uuid") { id } }') == {"note": None}


async def test_appending_keeps_the_content_limit(mesh_url: str) -> None:
    mesh = client(mesh_url)
    note = await notes.create_note(mesh, "Long", "x" * 99_990)
    with pytest.raises(MeshBadInput, match="content is longer than 100000"):
        await notes.append_to_note(mesh, note["id"], "y" * 20)
    assert len((await notes.get_note(mesh, note["id"]))["content"]) == 99_990


async def test_malformed_requests_are_4xx_not_500(mesh_url: str) -> None:
    headers = {
        "Authorization": f"Bearer {SERVICE_TOKEN}",
        "X-Voicefleet-Tenant": "acme",
        "X-Voicefleet-User": "ada",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient() as http:
        deep = b'{"query": "{ profile { userId } }", "variables": {"a": ' + b"[" * 5000
        for body in (b"{not json", b"[]", b'{"query": 5}', b"{}", deep + b"]" * 5000):
            response = await http.post(mesh_url, content=body, headers=headers)
            assert 400 <= response.status_code < 500, (body[:40], response.status_code)
        # A lone surrogate, which neither database driver could encode (nor can gql send it).
        surrogate = await http.post(
            mesh_url,
            content=b'{"query": "mutation($t: String!) { createNote(title: $t) { id } }", '
            b'"variables": {"t": "a\\ud800"}}',
            headers=headers,
        )
        assert surrogate.json()["errors"][0]["message"] == "title is not valid Unicode text"
        huge = await http.post(mesh_url, content=b" " * (9 * 1024 * 1024), headers=headers)
        assert huge.status_code == 413
        assert (await http.get(mesh_url, headers=headers)).status_code == 405
        health = await http.get(mesh_url.removesuffix("/graphql") + "/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})


async def test_tables_are_created_by_the_lifespan_and_the_engine_closed(tmp_path: Path) -> None:
    """Under a server that runs lifespan events (the dev stack's does not: it is covered by
    every other test, through the lazy creation on the first request)."""
    app = create_app(MeshSettings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    async with app.router.lifespan_context(app):
        async with app.state.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        assert app.state.engine.pool.checkedin() == 1
    assert {"mesh_notes", "mesh_applets", "mesh_profiles"} <= set(tables)
    assert app.state.engine.pool.checkedin() == 0  # disposed: the pooled connection closed
