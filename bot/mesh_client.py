"""The bot's client for Mesh, the product's GraphQL API (gql over httpx).

One place for what every call needs: the session's identity (the runner's service token,
acting for the session's tenant and user), a timeout, retries on transient failures only,
and GraphQL errors turned into typed exceptions the actions can handle.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import DocumentNode
from loguru import logger
from opentelemetry import trace

from bot import tls
from voicefleet.observability import tracing
from voicefleet.observability.metrics import MESH_REQUESTS

RETRIES = 3


class MeshError(Exception):
    """Mesh refused or failed the request; `str()` is safe to show to the LLM."""


class MeshNotFound(MeshError):
    pass


class MeshBadInput(MeshError):
    pass


class MeshUnauthorized(MeshError):
    pass


class MeshUnavailable(MeshError):
    """Mesh could not be reached (after retries) or answered with a server error."""


_ERRORS: dict[str, type[MeshError]] = {
    "NOT_FOUND": MeshNotFound,
    "BAD_USER_INPUT": MeshBadInput,
    "UNAUTHENTICATED": MeshUnauthorized,
}

# Metric label of each failure (voicefleet_bot_mesh_requests_total{outcome}).
_OUTCOMES: dict[type[MeshError], str] = {
    MeshNotFound: "not_found",
    MeshBadInput: "bad_input",
    MeshUnauthorized: "unauthorized",
    MeshUnavailable: "unavailable",
}

_documents: dict[str, DocumentNode] = {}


def _request(query: str, variables: dict[str, Any]) -> GraphQLRequest:
    """Queries are parsed once per process: the actions' queries are constants."""
    if query not in _documents:
        _documents[query] = gql(query).document
    return GraphQLRequest(_documents[query], variable_values=variables)


class MeshClient:
    def __init__(
        self, url: str, token: str, *, tenant: str, user: str, timeout_s: float = 5.0
    ) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Voicefleet-Tenant": tenant,
            "X-Voicefleet-User": user,
        }
        # A client per query (gql connects for each), each with the shared TLS context.
        transport = HTTPXAsyncTransport(
            url=url, headers=headers, timeout=timeout_s, verify=tls.httpx_context()
        )
        self._client = Client(transport=transport, execute_timeout=timeout_s)
        self.tenant = tenant
        self.user = user
        self._timeout_s = timeout_s

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        with tracing.tracer().start_as_current_span(
            "mesh graphql",
            kind=trace.SpanKind.CLIENT,
            attributes={"voicefleet.tenant": self.tenant},
        ) as span:
            try:
                result = await self._execute(query, variables)
            except MeshError as exc:
                outcome = _OUTCOMES.get(type(exc), "error")
                MESH_REQUESTS.labels(outcome=outcome).inc()
                span.set_status(trace.StatusCode.ERROR, outcome)
                raise
        MESH_REQUESTS.labels(outcome="ok").inc()
        return result

    async def _execute(self, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        """One answer within `timeout_s` in all, retries included.

        A slow Mesh used to cost three full timeouts (15 s of a silent bot) and, for a
        mutation, up to three writes: an attempt that timed out may still have been applied.
        So the retries share one deadline, and a mutation is retried only when it cannot
        have reached Mesh (the connection was never made).
        """
        mutation = query.lstrip().startswith("mutation")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        last: Exception | None = None
        for attempt in range(RETRIES):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    result: dict[str, Any] = await self._client.execute_async(
                        _request(query, variables or {}),
                        # The trace goes on into Mesh (headers are merged with the client's own).
                        extra_args={"headers": tracing.http_headers()},
                    )
                return result
            except TransportQueryError as exc:
                first = (exc.errors or [{}])[0]
                code = (first.get("extensions") or {}).get("code", "")
                if code == "UNAUTHENTICATED":
                    raise MeshUnauthorized("not authorized for Mesh") from exc
                raise _ERRORS.get(code, MeshError)(str(first.get("message", exc))) from exc
            except TransportServerError as exc:
                if exc.code == 401:
                    raise MeshUnauthorized("not authorized for Mesh") from exc
                if exc.code is not None and exc.code < 500:
                    raise MeshError(f"Mesh answered {exc.code}") from exc
                last = exc
            except (
                TransportConnectionFailed,
                TransportProtocolError,
                httpx.TransportError,
                OSError,
                TimeoutError,
            ) as exc:
                last = exc
            if mutation and not _never_sent(last):
                break
            await asyncio.sleep(min(0.1 * 2**attempt, max(deadline - loop.time(), 0)))
        logger.warning("Mesh unavailable ({}): {}", "mutation" if mutation else "query", last)
        raise MeshUnavailable("Mesh is unavailable right now") from last


def _never_sent(exc: BaseException | None) -> bool:
    """Whether the request failed before any byte of it could reach Mesh."""
    while exc is not None:
        if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
            return True
        exc = exc.__cause__
    return False
