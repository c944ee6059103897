"""The OpenAPI description of the gateway and admin functions, built from their routers and
their models.

The paths are the routes each function's router serves (`router.served()`), each described
by the table here: a route served but not described, or described but not served, stops the
build (and the test that checks the committed documents). Request bodies come from the same
pydantic models the functions validate with, so the documents cannot drift from what is
enforced. `python -m functions.openapi` writes
`docs/openapi-gateway.json` and `docs/openapi-admin.json` (a test checks the committed
copies), and the fuzz suite generates its requests from them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from functions.admin.answers import SessionList, SessionWithMessages
from functions.admin.records import NewWebhook
from functions.admin.schemas import AdminRequest
from functions.gateway.routes.calls import CallRequest
from functions.gateway.schemas import IcePatchRequest, JoinRequest, OfferRequest, StartRequest
from functions.http.routing import Router
from voicefleet.admin_messages import KNOWN, OtherMessage
from voicefleet.contracts import LaunchPayload, SessionRecord
from voicefleet.reports import SessionReport

DOCS = Path(__file__).resolve().parent.parent / "docs"

_ERRORS = {
    "400": "malformed request (not JSON, not a CloudEvent, an SDP that is not an audio offer)",
    "401": "no valid bearer key",
    "404": "no such endpoint or session (another tenant's session is not yours)",
    "405": "method not allowed on this path",
    "408": "the request body did not arrive in time",
    "413": "the request body is too large",
    "422": "a field is invalid; `error.field` names it",
    "503": "Redis or the broker unavailable; `Retry-After` says when to retry",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _responses(
    ok: str, description: str, *extra: str, returns: type[BaseModel] | None = None
) -> dict[str, Any]:
    error = _json({"$ref": "#/components/schemas/Error"})
    answers: dict[str, Any] = {ok: {"description": description}}
    if returns is not None:
        answers[ok].update(_json(_ref(returns)))
    for code in ("400", "401", "404", "405", "408", "413", "422", "503", *extra):
        answers[code] = {"description": _ERRORS.get(code, code), **error}
    return answers


def _operation(
    summary: str,
    ok: str = "200",
    body: dict[str, Any] | None = None,
    *,
    auth: bool = True,
    extra: tuple[str, ...] = (),
    idempotent: bool = False,
    returns: type[BaseModel] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": _responses(ok, summary, *extra, returns=returns),
    }
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if not auth:
        operation["security"] = []
    if idempotent:
        operation["parameters"] = [{"$ref": "#/components/parameters/IdempotencyKey"}]
    return operation


def _webhook(summary: str, ok: str = "200", *, event: bool = False) -> dict[str, Any]:
    """A phone provider's signed webhook: a form, no bearer key, TwiML/TeXML back (or none);
    an `event` is JSON (Telnyx's Call Control webhooks), answered with an empty 200."""
    error = _json({"$ref": "#/components/schemas/Error"})
    form = {"type": "object", "additionalProperties": {"type": "string"}}
    answer: dict[str, Any] = {"description": summary}
    if ok == "200" and not event:
        answer["content"] = {"application/xml": {"schema": {"type": "string"}}}
    body = (
        {"application/json": {"schema": {"type": "object"}}}
        if event
        else {"application/x-www-form-urlencoded": {"schema": form}}
    )
    return {
        "summary": summary,
        "security": [],
        "requestBody": {"required": True, "content": body},
        "responses": {
            ok: answer,
            "400": {"description": "the request names no call", **error},
            "403": {"description": "the provider's signature does not check out", **error},
            "404": {"description": "no session for this call", **error},
            "408": {"description": _ERRORS["408"], **error},
            "413": {"description": _ERRORS["413"], **error},
        },
    }


def _metrics() -> dict[str, Any]:
    return {
        "summary": "Prometheus metrics, text format (the metrics token as bearer, when one is set)",
        "security": [],
        "responses": {
            "200": {
                "description": "the metrics",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "401": {"description": _ERRORS["401"], **_json({"$ref": "#/components/schemas/Error"})},
        },
    }


class Undescribed(LookupError):
    """A route the router serves and the table does not describe, or the other way round."""


def _paths(served: list[tuple[str, str]], described: dict[str, Any]) -> dict[str, Any]:
    """The described operations of the routes served, in the router's order."""
    paths: dict[str, Any] = {}
    for path, method in served:
        operation = described.get(path, {}).get(method.lower())
        if operation is None:
            raise Undescribed(
                f"{method} {path} is served but not described in functions/openapi.py"
            )
        entry = paths.setdefault(path, {})
        if "parameters" in described[path]:
            entry["parameters"] = described[path]["parameters"]
        entry[method.lower()] = operation
    for path, operations in described.items():
        for method in operations:
            if method != "parameters" and method not in paths.get(path, {}):
                raise Undescribed(f"{method.upper()} {path} is described but not served")
    return paths


def _path_param(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _gateway_paths() -> dict[str, Any]:
    launch = ("409", "429")
    session = {"parameters": _path_param("session_id")}
    end = _operation("end the session", "202", returns=SessionRecord)
    end["responses"]["200"] = {
        "description": "the session had already ended: its record, unchanged",
        **_json(_ref(SessionRecord)),
    }
    return {
        "/healthz": {"get": _operation("liveness", auth=False)},
        "/metrics": {"get": _metrics()},
        "/": {
            "post": _operation(
                "a join CloudEvent (binary or structured mode) or the plain /join body",
                "202", _ref(JoinRequest), extra=launch, idempotent=True,
            )
        },
        "/join": {
            "post": _operation(
                "send a bot to a Daily room", "202", _ref(JoinRequest), extra=launch,
                idempotent=True,
            )
        },
        "/start": {
            "post": _operation(
                "Pipecat's session API: a WebRTC or Daily session", body=_ref(StartRequest),
                extra=(*launch, "502"), idempotent=True,
            )
        },
        "/api/offer": {
            "post": _operation(
                "Pipecat's dev-runner offer: starts a session and answers it",
                body=_ref(OfferRequest), extra=(*launch, "502", "504"), idempotent=True,
            ),
            "patch": _operation(
                "ICE candidates for a peer connection", body=_ref(IcePatchRequest),
                extra=("409", "502", "504"),
            ),
        },
        "/sessions/{session_id}/api/offer": {
            **session,
            "post": _operation(
                "the session's SDP offer; answers the bot's SDP answer", body=_ref(OfferRequest),
                extra=("409", "502", "504"),
            ),
            "patch": _operation(
                "ICE candidates for the session", body=_ref(IcePatchRequest),
                extra=("409", "502", "504"),
            ),
        },
        "/sessions/{session_id}": {
            **session,
            "get": _operation("the session record", returns=SessionRecord),
            "delete": end,
        },
        "/calls": {
            "post": _operation(
                "place a phone call (Twilio or Telnyx); the answer is its session", "201",
                _ref(CallRequest), extra=(*launch, "502"), idempotent=True,
                returns=SessionRecord,
            )
        },
        "/sessions/{session_id}/report": {
            **session,
            "get": _operation(
                "the finished session's report (409 while it runs or until it is stored)",
                extra=("409",), returns=SessionReport,
            ),
        },
        "/deadletter": {
            "post": _operation(
                "the Trigger's dead-letter sink (a CloudEvent carrying the launch)",
                body=_ref(LaunchPayload), auth=False,
            )
        },
        "/telephony/twilio": {
            "post": _webhook("Twilio's voice webhook (X-Twilio-Signature): TwiML for the call")
        },
        "/telephony/twilio/after-stream": {
            "post": _webhook("the <Connect> action once the call's stream ended: TwiML")
        },
        "/telephony/twilio/status": {
            "post": _webhook("Twilio's status callback for a placed call", "204")
        },
        "/telephony/telnyx": {
            "post": _webhook("Telnyx's TeXML voice webhook (Ed25519 signature): TeXML")
        },
        "/telephony/telnyx/after-stream": {
            "post": _webhook("the TeXML <Redirect> once the call's stream ended: TeXML")
        },
        "/telephony/telnyx/events": {
            "post": _webhook("Telnyx's Call Control webhooks for a placed call", event=True)
        },
    }  # fmt: skip


def _admin_paths() -> dict[str, Any]:
    return {
        "/healthz": {"get": _operation("liveness", auth=False)},
        "/metrics": {"get": _metrics()},
        "/": {
            "post": _operation(
                "an admin-message CloudEvent or the plain /admin body", "202",
                _ref(AdminRequest), extra=("403", "409", "429"), idempotent=True,
            )
        },
        "/admin": {
            "post": _operation(
                "queue a message for a running bot", "202", _ref(AdminRequest),
                extra=("403", "409", "429"), idempotent=True,
            )
        },
        "/admin/messages/{message_id}": {
            "parameters": _path_param("message_id"),
            "get": _operation("a message's delivery status", extra=("403",)),
        },
        "/sessions": {
            "get": _operation("the tenant's active sessions", extra=("403",), returns=SessionList)
        },
        "/sessions/{session_id}": {
            "parameters": _path_param("session_id"),
            "get": _operation(
                "a session and the admin messages it handled", extra=("403",),
                returns=SessionWithMessages,
            ),
        },
        "/sessions/{session_id}/report": {
            "parameters": _path_param("session_id"),
            "get": _operation("a past session's report", extra=("403",), returns=SessionReport),
        },
        "/reports": {
            "get": {
                **_operation("past sessions, newest first", extra=("403",)),
                "parameters": [
                    {"name": "since", "in": "query", "schema": {"type": "number"}},
                    {"name": "status", "in": "query",
                     "schema": {"type": "string", "enum": ["ended", "failed"]}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                ],
            }
        },
        "/webhooks": {
            "post": _operation(
                "register a webhook; the answer holds its signing secret (shown once)", "201",
                _ref(NewWebhook), extra=("403", "409"),
            ),
            "get": _operation("the tenant's webhooks", extra=("403",)),
        },
        "/webhooks/{webhook_id}": {
            "parameters": _path_param("webhook_id"),
            "delete": _operation("remove a webhook", "204", extra=("403",)),
        },
        "/webhooks/{webhook_id}/deliveries": {
            "parameters": _path_param("webhook_id"),
            "get": _operation("the webhook's deliveries, each attempt", extra=("403",)),
        },
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/replay": {
            "parameters": [*_path_param("webhook_id"), *_path_param("delivery_id")],
            "post": _operation("send a delivery again", "202", extra=("403", "409")),
        },
    }  # fmt: skip


def _schemas(returned: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        JoinRequest, StartRequest, OfferRequest, IcePatchRequest, CallRequest, LaunchPayload,
        AdminRequest, OtherMessage, NewWebhook, *KNOWN.values(),
    ]  # fmt: skip
    _, top = models_json_schema(
        [*((m, "validation") for m in models), *((m, "serialization") for m in returned)],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = top["$defs"]
    # What `message` may be: one of the known types, or another type a newer bot may know.
    kinds: list[type[BaseModel]] = [*KNOWN.values(), OtherMessage]
    message = {"anyOf": [_ref(m) for m in kinds]}
    schemas["AdminRequest"]["properties"]["message"] = message
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}, "field": {"type": "string"}},
            }
        },
    }
    return schemas


def _served(function: str) -> list[tuple[str, str]]:
    """The routes of the function's router (its main module, as functions-framework loads it)."""
    module = importlib.import_module(f"functions.{function}.main")
    router: Router[Any] = module.router
    return router.served()


# Each function: its title, its operations, and the models its answers are documented by.
_FUNCTIONS: dict[str, tuple[str, Callable[[], dict[str, Any]], tuple[type[BaseModel], ...]]] = {
    "gateway": ("voicefleet gateway function", _gateway_paths, (SessionRecord, SessionReport)),
    "admin": (
        "voicefleet admin function",
        _admin_paths,
        (SessionList, SessionWithMessages, SessionReport),
    ),
}


def document_path(function: str) -> Path:
    return DOCS / f"openapi-{function}.json"


def document(function: str) -> dict[str, Any]:
    """The function's paths (each function serves its own at its own root)."""
    title, described, returned = _FUNCTIONS[function]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": (
                'Errors are JSON `{"error": {"message", "field"?}}` with a 4xx status; '
                "a 429 or 503 carries Retry-After."
            ),
        },
        "components": {
            "schemas": _schemas(returned),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": _paths(_served(function), described()),
    }


def rendered(function: str) -> str:
    return json.dumps(document(function), indent=1, sort_keys=True) + "\n"


def main() -> None:
    """Write docs/openapi-gateway.json and docs/openapi-admin.json."""
    for function in _FUNCTIONS:
        document_path(function).write_text(rendered(function))


if __name__ == "__main__":
    main()
