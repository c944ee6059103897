"""The Mesh ASGI app: `POST /graphql` (bearer token required) and `GET /healthz`.

Authentication happens before GraphQL sees the request, so an unauthenticated caller learns
nothing about the schema. Tables are created on first use, so the app works the same under a
server with or without lifespan events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ariadne import load_schema_from_path, make_executable_schema
from ariadne.asgi import GraphQL
from graphql import ASTValidationRule, DocumentNode, GraphQLError
from loguru import logger
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mesh.auth import Authenticator, BadIdentity, Identity, Unauthenticated
from mesh.db import create_tables, make_engine, make_sessions
from mesh.errors import MeshFault
from mesh.limits import Checker, Limits
from mesh.resolvers import datetime_scalar, json_scalar, mutation, query
from mesh.settings import MeshSettings
from voicefleet.body_deadline import BodyDeadline

# Ariadne logs every error, the caller's mistakes included; _format_error logs the ones that
# are bugs. Made outside the logging registry, so that no later logging set-up (uvicorn's
# dictConfig re-enables the loggers it finds) switches it back on.
_QUIET = logging.Logger("mesh.graphql")
_QUIET.disabled = True

SCHEMA = load_schema_from_path(str(Path(__file__).with_name("schema.graphql")))
# The largest field is an applet's 500,000 characters, which JSON may spell as \uXXXX escapes.
MAX_BODY_BYTES = 8 * 1024 * 1024


def _format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """Our own faults and GraphQL's own errors (syntax, validation, the request limits, a
    variable of the wrong type: none has a path, as nothing ran) as they are; anything else
    is a bug whose details (SQL, paths) stay in the log."""
    original = error.original_error
    if original is None or error.path is None or isinstance(original, MeshFault | GraphQLError):
        formatted: dict[str, Any] = dict(error.formatted)
        extensions = dict(formatted.get("extensions") or {})
        code = "QUERY_TOO_COMPLEX" if "cost" in extensions else "BAD_USER_INPUT"
        formatted["extensions"] = {"code": code, **extensions}
        return formatted
    logger.opt(exception=original).error("Mesh resolver failed: {}", error.path)
    return {
        "message": "internal error",
        "path": error.path,
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }


def _refusal(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def _body_timeout(message: str) -> Response:
    return _refusal(408, message, "BAD_USER_INPUT")


async def _too_large(request: Request) -> bool:
    """Checked before parsing: by the declared length if any, else by what arrived (Starlette
    keeps the body it read for Ariadne)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return True
    return len(await request.body()) > MAX_BODY_BYTES


def create_app(settings: MeshSettings | None = None, limits: Limits | None = None) -> Starlette:
    settings = settings or MeshSettings()
    auth = Authenticator(settings)
    if not auth.configured:
        logger.warning("Mesh has no MESH_SERVICE_TOKEN or MESH_TOKENS: every call will be refused")
    engine = make_engine(settings.database_url)
    sessions = make_sessions(engine)
    ready = asyncio.Event()
    lock = asyncio.Lock()

    async def prepare() -> None:
        if ready.is_set():
            return
        async with lock:
            if not ready.is_set():
                await create_tables(engine)
                ready.set()

    def context(request: Request, _data: Any) -> dict[str, Any]:
        identity: Identity = request.state.identity
        return {"identity": identity, "sessions": sessions}

    schema = make_executable_schema(SCHEMA, query, mutation, datetime_scalar, json_scalar)
    checker = Checker(schema, limits)

    def parse_query(_context: Any, data: dict[str, Any]) -> DocumentNode:
        return checker.parse(data["query"])

    def validation_rules(
        _context: Any, _document: DocumentNode, data: dict[str, Any]
    ) -> list[type[ASTValidationRule]]:
        variables = data.get("variables")
        return list(checker.rules(variables if isinstance(variables, dict) else None))

    graphql = GraphQL(
        schema,
        context_value=context,
        debug=False,
        error_formatter=_format_error,
        logger=_QUIET,
        query_parser=parse_query,
        validation_rules=validation_rules,
    )

    async def answer(request: Request) -> Response:
        """The request run within its deadline, its answer within the size cap."""
        try:
            async with asyncio.timeout(checker.limits.deadline_s):
                response = await graphql.handle_request(request)
        except TimeoutError:
            return _refusal(
                422,
                f"the request did not finish within {checker.limits.deadline_s:g} s; ask for less",
                "DEADLINE_EXCEEDED",
            )
        if len(response.body) > checker.limits.max_answer_bytes:
            return _refusal(
                422,
                f"the answer is over {checker.limits.max_answer_bytes} bytes; ask for less",
                "ANSWER_TOO_LARGE",
            )
        return response

    async def endpoint(request: Request) -> Response:
        try:
            request.state.identity = auth.identify(request)
        except Unauthenticated as exc:
            return _refusal(401, str(exc), "UNAUTHENTICATED")
        except BadIdentity as exc:
            return _refusal(400, str(exc), "BAD_USER_INPUT")
        if await _too_large(request):
            return _refusal(413, f"request body over {MAX_BODY_BYTES} bytes", "BAD_USER_INPUT")
        await prepare()
        try:
            return await answer(request)
        except RecursionError:  # a JSON body nested deeper than Python's parser goes
            return _refusal(400, "request nested too deeply", "BAD_USER_INPUT")

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await prepare()
        yield
        await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=[Middleware(BodyDeadline, respond=_body_timeout)],
        lifespan=lifespan,
    )
    app.state.prepare = prepare
    app.state.engine = engine
    return app
