"""The bot's Mesh client when Mesh is slow or failing: one deadline for all attempts, and a
write that may have been applied is never sent again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.mesh_client import MeshClient, MeshUnavailable
from tests.support.servers import free_port, serving

QUERY = "query { notes(limit: 1) { id } }"
MUTATION = 'mutation { createNote(title: "groceries") { id } }'


class FlakyMesh:
    """Answers each request after `delay_s`, with 503 for the first `failures` of them."""

    def __init__(self, *, delay_s: float = 0.0, failures: int = 0) -> None:
        self.delay_s = delay_s
        self.failures = failures
        self.requests = 0
        self.app = Starlette(routes=[Route("/graphql", self._answer, methods=["POST"])])

    async def _answer(self, request: Request) -> Response:
        self.requests += 1
        await asyncio.sleep(self.delay_s)
        if self.requests <= self.failures:
            return Response("upstream unavailable", status_code=503)
        return JSONResponse({"data": {"notes": []}})


@pytest.fixture
async def served() -> AsyncIterator[tuple[FlakyMesh, MeshClient]]:
    mesh = FlakyMesh()
    async with serving(mesh.app) as url:
        yield mesh, MeshClient(url + "/graphql", "token", tenant="acme", user="ada", timeout_s=0.5)


async def test_a_slow_mesh_costs_one_timeout_not_three(
    served: tuple[FlakyMesh, MeshClient],
) -> None:
    mesh, client = served
    mesh.delay_s = 2.0
    with pytest.raises(MeshUnavailable):
        await client.execute(QUERY)
    assert mesh.requests == 1  # the deadline was spent on the first attempt


async def test_a_failed_write_is_not_sent_again(served: tuple[FlakyMesh, MeshClient]) -> None:
    mesh, client = served
    mesh.failures = 5
    with pytest.raises(MeshUnavailable):
        await client.execute(MUTATION)
    assert mesh.requests == 1  # a 503 may come after the write: not retried


async def test_a_read_is_still_retried(served: tuple[FlakyMesh, MeshClient]) -> None:
    mesh, client = served
    mesh.failures = 1
    assert await client.execute(QUERY) == {"notes": []}
    assert mesh.requests == 2


async def test_a_write_that_never_connected_is_retried_until_the_deadline() -> None:
    client = MeshClient(
        f"http://127.0.0.1:{free_port()}/graphql", "t", tenant="acme", user="ada", timeout_s=0.5
    )
    with pytest.raises(MeshUnavailable):
        await client.execute(MUTATION)
