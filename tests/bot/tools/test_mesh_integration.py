"""Tool + action + the real gql Mesh client, against a GraphQL server with canned answers."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.mesh_client import MeshClient
from bot.toolbox import Toolbox
from bot.tools.base import ToolContext
from tests.support.mesh_fakes import note, recording_forwarder
from tests.support.servers import free_port, serving


class CannedMesh:
    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/graphql", self.graphql, methods=["POST"])])

    async def graphql(self, request: Request) -> Response:
        self.requests.append(
            {"headers": dict(request.headers), "body": json.loads(await request.body())}
        )
        status, body = self.answers.pop(0)
        return JSONResponse(body, status_code=status)


def toolbox(url: str) -> tuple[Toolbox, ToolContext]:
    forwarder, _ = recording_forwarder()
    mesh = MeshClient(url, "service-token", tenant="acme", user="ada", timeout_s=2)
    ctx = ToolContext(tenant="acme", user="ada", forwarder=forwarder, mesh=mesh)
    return Toolbox(ctx), ctx


async def test_create_note_through_graphql_with_the_session_identity() -> None:
    canned = CannedMesh((200, {"data": {"createNote": note(title="Meeting")}}))
    async with serving(canned.app) as url:
        box, ctx = toolbox(f"{url}/graphql")
        result = await box.call("bot_create_note", {"title": "Meeting"})
    assert result["created"]["title"] == "Meeting"
    sent = canned.requests[0]
    assert sent["headers"]["authorization"] == "Bearer service-token"
    assert (sent["headers"]["x-voicefleet-tenant"], sent["headers"]["x-voicefleet-user"]) == (
        "acme",
        "ada",
    )
    assert sent["body"]["variables"] == {"title": "Meeting", "content": ""}
    assert ctx.forwarder.sent[0]["type"] == "note.created"


async def test_graphql_errors_become_clear_results() -> None:
    not_found = {
        "data": None,
        "errors": [{"message": "note not found", "extensions": {"code": "NOT_FOUND"}}],
    }
    bad = {
        "data": None,
        "errors": [{"message": "title too long", "extensions": {"code": "BAD_USER_INPUT"}}],
    }
    canned = CannedMesh(
        (200, not_found),
        (200, bad),
        (401, {"errors": [{"message": "bad token", "extensions": {"code": "UNAUTHENTICATED"}}]}),
    )
    async with serving(canned.app) as url:
        box, ctx = toolbox(f"{url}/graphql")
        assert await box.call("bot_get_note", {"note_id": "x"}) == {"error": "note not found"}
        assert await box.call("bot_create_note", {"title": "t"}) == {"error": "title too long"}
        assert await box.call("bot_create_note", {"title": "t"}) == {
            "error": "not authorized for Mesh"
        }
    assert ctx.forwarder.sent == []


async def test_transient_failures_are_retried() -> None:
    canned = CannedMesh((503, {}), (502, {}), (200, {"data": {"notes": [note()]}}))
    async with serving(canned.app) as url:
        box, _ = toolbox(f"{url}/graphql")
        result = await box.call("bot_list_notes", {})
    assert [n["id"] for n in result["notes"]] == ["n1"]
    assert len(canned.requests) == 3


async def test_unreachable_mesh_is_an_error_result_not_a_crash() -> None:
    box, _ = toolbox(f"http://127.0.0.1:{free_port()}/graphql")
    result = await box.call("bot_create_note", {"title": "t"})
    assert result == {"error": "Mesh is unavailable right now"}
