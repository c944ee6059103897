"""What one GraphQL request may ask of Mesh: the shapes an attacker tries each get a 4xx
naming the limit, and the largest legitimate request (the interface's page) still works."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesh import resolvers
from mesh.app import create_app
from mesh.limits import Limits
from mesh.settings import MeshSettings
from tests.support.servers import serving

TOKEN = "limits-service-token"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "X-Voicefleet-Tenant": "acme",
    "X-Voicefleet-User": "ada",
}
PAGE = (
    "{ notes(limit: 100) { id title content createdAt updatedAt } "
    "applets(limit: 100) { id title } }"
)
CREATE = "mutation($t: String!, $c: String) { createNote(title: $t, content: $c) { id } }"

Mesh = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def mesh(tmp_path: Path) -> Mesh:
    """Mesh on SQLite over real HTTP, with the given limits (the defaults unless told)."""

    @asynccontextmanager
    async def served(limits: Limits | None = None) -> AsyncIterator[httpx.AsyncClient]:
        settings = MeshSettings(
            database_url=f"sqlite:///{tmp_path / 'mesh.db'}", service_token=TOKEN
        )
        app = create_app(settings, limits)
        try:
            async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
                yield http
        finally:
            await app.state.engine.dispose()

    return served


async def ask(http: httpx.AsyncClient, query: str, **variables: Any) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=HEADERS
    )


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of a refused request."""
    error = response.json()["errors"][0]
    return response.status_code, error["extensions"]["code"], error["message"]


async def store_notes(http: httpx.AsyncClient, count: int, size: int) -> None:
    for i in range(count):
        answer = await ask(http, CREATE, t=f"note {i}", c="x" * size)
        assert answer.status_code == 200, answer.text


async def test_the_probes_query_is_refused_and_the_page_still_loads(mesh: Mesh) -> None:
    """The probe's store: 100 notes of 50 kB; its query repeated notes(limit: 100) by alias."""
    async with mesh() as http:
        await store_notes(http, 100, 50_000)
        aliases = " ".join(f"n{i}: notes(limit: 100) {{ content }}" for i in range(400))
        attack = await ask(http, f"{{ {aliases} }}")
        page = await ask(http, PAGE)
    status, code, message = refusal(attack)
    assert (status, code) == (400, "QUERY_TOO_COMPLEX")
    assert "maximum cost of 12000" in message
    assert page.status_code == 200
    assert len(page.json()["data"]["notes"]) == 100


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        # aliases repeating a list
        ("{ " + " ".join(f"a{i}: notes(limit: 100) {{ id content }}" for i in range(3)) + " }",
         {}, "QUERY_TOO_COMPLEX"),
        # a fragment spread many times, each spreading another
        ("{ ...A ...A ...A ...A } fragment A on Query { ...B ...B ...B ...B } "
         "fragment B on Query { notes(limit: 100) { content } }", {}, "QUERY_TOO_COMPLEX"),
        # a large list argument, inline and as a variable
        ("{ notes(limit: 100000000) { id } }", {}, "QUERY_TOO_COMPLEX"),
        ("query($n: Int) { applets(limit: $n) { html } }", {"n": 10**12}, "QUERY_TOO_COMPLEX"),
        # searches, which scan the user's notes, by alias
        ("{ " + " ".join(f"s{i}: searchNotes(query: \"x\") {{ id }}" for i in range(60)) + " }",
         {}, "QUERY_TOO_COMPLEX"),
        # deep nesting through introspection, where the cost map does not reach
        ('{ __type(name: "Note") { fields { type { ofType { ofType { ofType { ofType '
         "{ ofType { name } } } } } } } } }", {}, "QUERY_TOO_DEEP"),
        # many writes in one request
        ("mutation { " + " ".join(f'c{i}: createNote(title: "t") {{ id }}' for i in range(150))
         + " }", {}, "QUERY_TOO_COMPLEX"),
        # many operations, or aliases past the parser's token bound
        (" ".join(f"query Q{i} {{ profile {{ userId }} }}" for i in range(1000)), {},
         "BAD_USER_INPUT"),
        ("{ " + " ".join(f"p{i}: profile {{ userId }}" for i in range(2000)) + " }", {},
         "BAD_USER_INPUT"),
    ],
    ids=["aliases", "fragments", "list-argument", "list-variable", "searches", "depth",
         "mutations", "operations", "tokens"],
)  # fmt: skip
async def test_attack_shapes_are_refused_before_anything_runs(
    mesh: Mesh, query: str, variables: dict[str, Any], code: str
) -> None:
    async with mesh() as http:
        answer = await ask(http, query, **variables)
        notes = await ask(http, "{ notes { id } }")
    assert refusal(answer)[:2] == (400, code), answer.text[:300]
    assert notes.json() == {"data": {"notes": []}}  # nothing was written


async def test_batches_and_big_variables_are_refused(mesh: Mesh) -> None:
    async with mesh() as http:
        batch = await http.post(
            "/graphql", json=[{"query": "{ profile { userId } }"}] * 100, headers=HEADERS
        )
        big = await http.post(
            "/graphql",
            content=json.dumps({"query": CREATE, "variables": {"t": "t", "c": "x" * 9_000_000}}),
            headers={**HEADERS, "content-type": "application/json"},
        )
        long_note = await ask(http, CREATE, t="t", c="x" * (resolvers.CONTENT_MAX + 1))
    assert batch.status_code == 400
    assert big.status_code == 413
    assert refusal(long_note)[:2] == (400, "BAD_USER_INPUT")


async def test_an_answer_over_the_cap_is_refused(mesh: Mesh) -> None:
    async with mesh(Limits(max_answer_bytes=100_000)) as http:
        await store_notes(http, 3, 40_000)
        small = await ask(http, "{ notes { id } }")
        large = await ask(http, "{ notes { content } }")
    assert small.status_code == 200
    status, code, message = refusal(large)
    assert (status, code) == (422, "ANSWER_TOO_LARGE")
    assert "100000 bytes" in message


async def test_a_request_past_its_deadline_is_refused(mesh: Mesh) -> None:
    async with mesh(Limits(deadline_s=0)) as http:
        late = await ask(http, "{ notes { id } }")
    status, code, message = refusal(late)
    assert (status, code) == (422, "DEADLINE_EXCEEDED")
    assert "within 0 s" in message


async def test_what_a_user_stores_is_bounded(mesh: Mesh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolvers, "APPLETS_PER_USER", 2)
    create = 'mutation { createApplet(title: "a", html: "<p>") { id } }'
    async with mesh() as http:
        made = [await ask(http, create) for _ in range(3)]
        applets = await ask(http, "{ applets { id } }")
    assert [a.status_code for a in made] == [200, 200, 400]
    assert "at most 2 applets" in refusal(made[2])[2]
    assert len(applets.json()["data"]["applets"]) == 2
