"""The interface's read-only window on Mesh, served on the gateway's origin in the dev stack.

The page loads the user's notes, applets and profile from `/mesh/graphql` and shows an applet
from `/mesh/applets/{id}`; it never holds a Mesh token. The proxy authenticates the request like
the gateway does (an API key, which BrowserAccess adds for the dev cookie), and asks Mesh with
the runners' service token for that key's tenant and the user the page names: the scoping the
bot gets for a session of that user. Only queries pass: the page shows data, the bot changes it.
A query over Mesh's limits (`mesh/limits.py`: cost, depth, tokens) is refused here before it
reaches Mesh, and Mesh's answer is read within the same deadline and size cap.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import httpx
from graphql import GraphQLError, OperationDefinitionNode, OperationType, build_schema
from loguru import logger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from functions.http.body import read_json
from functions.http.keys import bearer, tenant_for
from mesh.app import SCHEMA
from mesh.limits import Checker, Limits
from voicefleet.http_client import async_client
from voicefleet.http_errors import ApiError

PREFIX = "/mesh"
USER_HEADER = "x-voicefleet-user"
# The session API's rule for a user id (SessionOverrides.user_id).
_USER = re.compile(r"[A-Za-z0-9._@:-]{1,100}")
QUERY_MAX_BYTES = 16_000

# An applet is HTML an LLM wrote: it runs sandboxed (an opaque origin, so no access to the
# page, its storage or cookies, even if opened on its own) and may load nothing at all.
APPLET_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:; font-src data:; media-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
_APPLET_QUERY = "query($id: ID!) { applet(id: $id) { html } }"


def _user(value: str | None) -> str:
    user = value or "default"
    if not _USER.fullmatch(user):
        raise ApiError(422, "the user id must be 1 to 100 of A-Z a-z 0-9 . _ @ : -", field="user")
    return user


def _read_only(checker: Checker, query: object, variables: dict[str, Any]) -> str:
    """A query within Mesh's limits, refused here before it costs Mesh anything."""
    if not isinstance(query, str) or not query.strip():
        raise ApiError(422, "query must be a GraphQL document", field="query")
    try:
        document = checker.parse(query)
    except GraphQLError as exc:
        raise ApiError(422, f"query: {exc.message}", field="query") from exc
    for definition in document.definitions:
        if (
            isinstance(definition, OperationDefinitionNode)
            and definition.operation is not OperationType.QUERY
        ):
            raise ApiError(403, "only queries go through the interface's Mesh proxy")
    problems = checker.check(document, variables)
    if problems:
        raise ApiError(400, f"query: {problems[0].message}", field="query")
    return query


class MeshProxy:
    def __init__(
        self,
        mesh_url: str,
        service_token: str,
        tenants: Mapping[str, str],
        limits: Limits | None = None,
    ) -> None:
        self._url = mesh_url
        self._token = service_token
        self._tenants = dict(tenants)
        self._http = async_client(timeout=10.0)
        self._checker = Checker(build_schema(SCHEMA), limits)
        self._app = Starlette(
            routes=[
                Route(f"{PREFIX}/graphql", self._graphql, methods=["POST"]),
                Route(f"{PREFIX}/applets/{{applet_id}}", self._applet, methods=["GET"]),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _tenant(self, request: Request) -> str:
        tenant = tenant_for(bearer(request), self._tenants)
        if tenant is None:
            raise ApiError(401, "invalid API key")
        return tenant

    async def _ask(self, tenant: str, user: str, payload: dict[str, Any]) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "X-Voicefleet-Tenant": tenant,
            "X-Voicefleet-User": user,
        }
        limits = self._checker.limits
        try:
            async with asyncio.timeout(limits.deadline_s):
                status, content_type, content = await self._capped(payload, headers)
        except TimeoutError as exc:
            raise ApiError(
                422, f"Mesh did not answer within {limits.deadline_s:g} s; ask for less"
            ) from exc
        except httpx.HTTPError as exc:
            logger.warning("Mesh proxy: Mesh unreachable ({})", type(exc).__name__)
            raise ApiError(502, "Mesh is unreachable") from exc
        if status >= 500:
            logger.warning("Mesh proxy: Mesh answered {}", status)
            raise ApiError(502, f"Mesh failed ({status})")
        return httpx.Response(status, headers={"content-type": content_type}, content=content)

    async def _capped(
        self, payload: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        """Mesh's answer, read no further than the answer cap."""
        cap = self._checker.limits.max_answer_bytes
        chunks: list[bytes] = []
        size = 0
        async with self._http.stream("POST", self._url, json=payload, headers=headers) as answer:
            async for chunk in answer.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise ApiError(422, f"the answer is over {cap} bytes; ask for less")
                chunks.append(chunk)
            content_type = answer.headers.get("content-type", "application/json")
            return answer.status_code, content_type, b"".join(chunks)

    async def _graphql(self, request: Request) -> Response:
        try:
            tenant = self._tenant(request)
            user = _user(request.headers.get(USER_HEADER))
            # The functions' own reader: 400 for bad JSON, 408 if the body stalls, 413 if huge.
            body = await read_json(request)
            query = body.get("query")
            if isinstance(query, str) and len(query.encode()) > QUERY_MAX_BYTES:
                raise ApiError(413, f"a query is at most {QUERY_MAX_BYTES} bytes")
            variables = body.get("variables") or {}
            if not isinstance(variables, dict):
                raise ApiError(422, "variables must be an object", field="variables")
            payload: dict[str, Any] = {
                "query": _read_only(self._checker, query, variables),
                "variables": variables,
            }
            if isinstance(body.get("operationName"), str):
                payload["operationName"] = body["operationName"]
            answer = await self._ask(tenant, user, payload)
        except ApiError as exc:
            return exc.response()
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type", "application/json"),
        )

    async def _applet(self, request: Request) -> Response:
        try:
            tenant = self._tenant(request)
            user = _user(request.query_params.get("user"))
            applet_id = str(request.path_params["applet_id"])
            answer = await self._ask(
                tenant, user, {"query": _APPLET_QUERY, "variables": {"id": applet_id}}
            )
        except ApiError as exc:
            return exc.response()
        try:
            applet = (answer.json().get("data") or {}).get("applet")
        except ValueError:
            applet = None
        if answer.status_code != 200 or not isinstance(applet, dict):
            return ApiError(404, "no such applet").response()
        return Response(
            str(applet.get("html", "")),
            media_type="text/html",
            headers={
                "Content-Security-Policy": APPLET_CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )


def beside(api: ASGIApp, proxy: MeshProxy) -> ASGIApp:
    """The API, with `/mesh/…` answered by the proxy."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        target = proxy if scope["type"] == "http" and path.startswith(PREFIX + "/") else api
        await target(scope, receive, send)

    return app
