"""The gateway's and admin function's `/metrics` after real requests, as Prometheus scrapes them.

Both functions run as functions-framework serves them, over real HTTP and a real Redis; a
capture sink stands in for the broker. What is checked is what an operator's dashboard and
alerts read: launches by outcome, requests by route template and status, admin messages, and
that no session id, room or key ever becomes a label value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from functions import asgi_app
from functions.admin import context as admin_context
from functions.gateway import context as gateway_context
from tests.support.prometheus import label_values, value
from tests.support.servers import serving
from voicefleet.admin_messages import KNOWN
from voicefleet.observability.http import metrics_endpoint
from voicefleet.observability.metrics import ADMIN_TYPES
from voicefleet.observability.reasons import LABELS, reason_label

module_loop = pytest.mark.asyncio(loop_scope="module")

KEY = "metrics-test-key"
ADMIN_KEY = "metrics-test-admin-key"
ROOM = "https://acme.daily.co/metrics-room"


class Sink:
    def __init__(self) -> None:
        self.status = 202
        self.app = Starlette(routes=[Route("/", self._receive, methods=["POST"])])

        self.last: tuple[dict[str, str], bytes] | None = None

    async def _receive(self, request: Request) -> Response:
        self.last = (dict(request.headers), await request.body())
        return Response(status_code=self.status)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def functions_up(
    redis_url: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Sink]]:
    sink = Sink()
    with pytest.MonkeyPatch.context() as env:
        async with serving(sink.app) as sink_url:
            for name, setting in {
                "REDIS_URL": redis_url,
                "VOICEFLEET_API_KEYS": f"acme:{KEY}",
                "VOICEFLEET_ADMIN_KEYS": f"acme:{ADMIN_KEY}",
                "K_SINK": sink_url,
                "VOICEFLEET_ALLOWED_ROOM_HOSTS": "*.daily.co",
            }.items():
                env.setenv(name, setting)
            await gateway_context.context.reset()
            await admin_context.context.reset()
            async with (
                serving(asgi_app("gateway")) as gateway_url,
                serving(asgi_app("admin")) as admin_url,
                httpx.AsyncClient(base_url=gateway_url) as gateway,
                httpx.AsyncClient(base_url=admin_url) as admin,
            ):
                yield gateway, admin, sink
            await gateway_context.context.reset()
            await admin_context.context.reset()


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@module_loop
async def test_gateway_counts_launches_and_times_routes_by_template(
    functions_up: tuple[httpx.AsyncClient, httpx.AsyncClient, Sink],
) -> None:
    gateway, _, sink = functions_up
    auth = {"Authorization": f"Bearer {KEY}"}
    before = await scrape(gateway)

    joined = await gateway.post("/join", json={"room_url": ROOM}, headers=auth)
    assert joined.status_code == 202
    session_id = joined.json()["session_id"]
    again = await gateway.post(
        "/join", json={"room_url": ROOM}, headers={**auth, "Idempotency-Key": "k1"}
    )
    repeat = await gateway.post(
        "/join", json={"room_url": ROOM}, headers={**auth, "Idempotency-Key": "k1"}
    )
    assert again.json() == repeat.json()
    sink.status = 500
    refused = await gateway.post("/join", json={"room_url": ROOM}, headers=auth)
    sink.status = 202
    assert refused.status_code == 503
    assert (await gateway.get(f"/sessions/{session_id}", headers=auth)).status_code == 200
    assert (await gateway.get("/sessions/nope")).status_code == 401
    assert (await gateway.get("/no/such/path")).status_code == 404

    after = await scrape(gateway)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    launches = "voicefleet_gateway_launches_total"
    assert delta(launches, transport="daily", outcome="queued") == 2
    assert delta(launches, transport="daily", outcome="duplicate") == 1
    assert delta(launches, transport="daily", outcome="sink_refused") == 1
    requests = "voicefleet_http_request_duration_seconds_count"
    assert delta(requests, service="gateway", route="/join", method="POST", status="202") == 3
    assert delta(requests, service="gateway", route="/join", status="503") == 1
    assert delta(requests, service="gateway", route="/sessions/{session_id}", status="200") == 1
    assert delta(requests, service="gateway", route="/sessions/{session_id}", status="401") == 1
    assert delta(requests, service="gateway", route="unmatched", status="404") == 1
    # Bounded labels: paths are templates, and no id, room or key is a label value.
    routes = label_values(after, "route")
    assert "/sessions/nope" not in routes and f"/sessions/{session_id}" not in routes
    assert not [v for v in _all_label_values(after) if session_id in v or "daily.co" in v]
    assert KEY not in after and ADMIN_KEY not in after


@module_loop
async def test_admin_counts_messages_by_type_and_outcome(
    functions_up: tuple[httpx.AsyncClient, httpx.AsyncClient, Sink],
) -> None:
    _, admin, _ = functions_up
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    before = await scrape(admin)
    for message in ({"type": "say", "text": "hello"}, {"type": "custom.thing"}):
        sent = await admin.post("/admin", json={"room_url": ROOM, "message": message}, headers=auth)
        assert sent.status_code == 202, sent.text
    after = await scrape(admin)
    name = "voicefleet_admin_messages_total"

    def delta(**labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(type="say", outcome="queued") == 1
    assert delta(type="other", outcome="queued") == 1
    depth = "voicefleet_admin_queue_depth_count"
    assert value(after, depth) - value(before, depth) == 2
    assert value(after, "voicefleet_http_request_duration_seconds_count", service="admin",
                 route="/admin", status="202") >= 2  # fmt: skip


def _all_label_values(text: str) -> set[str]:
    from tests.support.prometheus import samples

    return {v for _, labels, _ in samples(text) for v in labels.values()}


def test_metrics_with_a_token_answer_only_its_bearer() -> None:
    app = Starlette(routes=[Route("/metrics", metrics_endpoint("scrape-secret"))])
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert ok.status_code == 200 and "voicefleet_http_request_duration_seconds" in ok.text


def test_admin_type_labels_are_the_types_the_admin_function_knows() -> None:
    assert frozenset(KNOWN) == ADMIN_TYPES


@pytest.mark.parametrize(
    "reason, label",
    [
        ("client left", "client_left"),
        ("maximum session duration reached", "max_duration"),
        ("ended by client", "ended_by_client"),
        ("ended by an admin message", "admin_end"),
        ("idle: nobody spoke", "idle"),
        ("lease lost to another runner", "lease_lost"),
        ("no WebRTC offer arrived within 60s", "no_offer"),
        ("invalid session options: bad greeting", "invalid_options"),
        ("bot crashed: ValueError", "crashed"),
        ("the user said bye to session 1234", "other"),
        ("held", "held_elsewhere"),
        (None, "other"),
    ],
)
def test_end_reasons_become_a_fixed_set_of_labels(reason: str | None, label: str) -> None:
    assert reason_label(reason) == label
    assert label in LABELS


@module_loop
async def test_a_dead_lettered_launch_is_counted(
    functions_up: tuple[httpx.AsyncClient, httpx.AsyncClient, Sink],
) -> None:
    gateway, _, sink = functions_up
    before = value(await scrape(gateway), "voicefleet_gateway_dead_letters_total")
    joined = await gateway.post(
        "/join", json={"room_url": ROOM}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert joined.status_code == 202 and sink.last is not None
    headers, body = sink.last
    # The broker gave up: it sends the launch on to the dead-letter sink with its error code.
    headers = {k: v for k, v in headers.items() if k.startswith("ce-") or k == "content-type"}
    failed = await gateway.post(
        "/deadletter", headers={**headers, "ce-knativeerrorcode": "503"}, content=body
    )
    assert failed.status_code == 200 and failed.json()["failed"] is True
    after = value(await scrape(gateway), "voicefleet_gateway_dead_letters_total")
    assert after - before == 1
