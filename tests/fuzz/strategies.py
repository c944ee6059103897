"""Requests generated from the functions' OpenAPI documents and Mesh's GraphQL schema.

Each operation's body comes from its schema (mostly valid, so the request gets past the
first check), then is mixed with what hostile clients send: other JSON, bytes that are not
JSON, wrong content types, odd headers, unknown paths and ids, other tenants' keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from functions.openapi import document
from mesh.app import SCHEMA
from tests.fuzz.json_schema import values
from tests.support.sdp import AUDIO_OFFER_SDP
from voicefleet.contracts import ADMIN_MESSAGE_EVENT, JOIN_EVENT, LAUNCH_EVENT

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
# Header values a raw client can send (no CR, LF or NUL, which the HTTP parser refuses).
HEADER = st.binary(max_size=60).filter(lambda b: not set(b) & {0, 10, 13})
ROOMS = st.sampled_from(
    ["https://acme.daily.co/fuzz", "https://acme.daily.co/a-b", "https://globex.daily.co/r"]
)


@dataclass
class Call:
    """One HTTP request to one service."""

    service: str
    method: str
    path: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


@dataclass
class Known:
    """Ids that exist, so that generated paths reach real sessions and messages too."""

    session_ids: list[str]
    message_ids: list[str]
    keys: dict[str, list[str]]  # service -> bearer keys worth trying (valid, other tenant, …)


def _operations(function: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    doc = document(function)
    found = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "delete"):
                found.append((method.upper(), path, operation, doc["components"]))
    return found


def _body_schema(operation: dict[str, Any], components: dict[str, Any]) -> dict[str, Any] | None:
    body = operation.get("requestBody")
    if body is None:
        return None
    # JSON, or the form a phone provider's webhook takes (sent as JSON here all the same).
    content = body["content"]
    schema = dict((content.get("application/json") or next(iter(content.values())))["schema"])
    return {**schema, "components": components}


def _valid_bits(data: Any, draw: st.DrawFn) -> Any:
    """Put realistic values where random ones would never pass (room URLs, SDP offers)."""
    if isinstance(data, dict):
        if "room_url" in data and draw(st.booleans()):
            data["room_url"] = draw(ROOMS)
        if "sdp" in data and draw(st.booleans()):
            data["sdp"] = AUDIO_OFFER_SDP
            data["type"] = "offer"
    return data


def _path(template: str, known: Known, draw: st.DrawFn) -> str:
    path = template
    for name, pool in (("{session_id}", known.session_ids), ("{message_id}", known.message_ids)):
        if name in path:
            value = draw(st.sampled_from(pool) | st.text(min_size=1, max_size=30))
            path = path.replace(name, quote(value, safe=""))
    return path


def _auth(service: str, known: Known, draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    choice = draw(st.sampled_from(["valid"] * 6 + ["other", "none", "garbage"]))
    if choice == "none":
        return []
    if choice == "garbage":
        return [(b"authorization", draw(HEADER))]
    keys = known.keys[service]
    key = keys[0] if choice == "valid" else draw(st.sampled_from(keys))
    return [(b"authorization", b"Bearer " + key.encode())]


def _content_type(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    kind = draw(st.sampled_from([b"application/json"] * 4 + [b"text/plain", b"", b"garbage"]))
    if kind == b"garbage":
        return [(b"content-type", draw(HEADER))]
    return [(b"content-type", kind)] if kind else []


def _cloudevent_headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    types = st.sampled_from([JOIN_EVENT, ADMIN_MESSAGE_EVENT, LAUNCH_EVENT]).map(str.encode)
    headers = [
        (b"ce-specversion", draw(st.sampled_from([b"1.0", b"0.3"]) | HEADER)),
        (b"ce-type", draw(types | HEADER)),
        (b"ce-source", draw(st.just(b"/fuzz") | HEADER)),
        (b"ce-id", draw(st.uuids().map(lambda u: u.hex.encode()) | HEADER)),
    ]
    return draw(st.lists(st.sampled_from(headers), unique=True, max_size=4))


@st.composite
def function_call(draw: st.DrawFn, function: str, known: Known) -> Call:
    method, template, operation, components = draw(st.sampled_from(_OPERATIONS[function]))
    if draw(st.integers(0, 19)) == 0:  # now and then: a path or method that does not exist
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS"]))
        template = draw(st.sampled_from([template, "/nope", "/sessions/", "//", "/%ff"]))
    headers = _auth(function, known, draw) + _content_type(draw)
    if draw(st.booleans()):
        headers.append((b"idempotency-key", draw(HEADER)))
    if template == "/" and draw(st.booleans()):
        headers += _cloudevent_headers(draw)
    schema = _body_schema(operation, components)
    body_kind = draw(st.sampled_from(["schema"] * 3 + ["json", "bytes", "empty"]))
    if body_kind == "schema" and schema is not None:
        body = json.dumps(_valid_bits(draw(values(schema, schema)), draw)).encode()
    elif body_kind == "json":
        body = json.dumps(draw(JSON)).encode()
    elif body_kind == "bytes":
        body = draw(st.binary(max_size=300))
    else:
        body = b""
    if template == "/" and any(name == b"ce-type" for name, _ in headers) and draw(st.booleans()):
        headers = [(n, v) for n, v in headers if n != b"content-type"]
        headers.append((b"content-type", b"application/cloudevents+json"))
        event = {"specversion": "1.0", "id": "1", "source": "/fuzz", "type": JOIN_EVENT}
        body = json.dumps(
            {**event, "data": json.loads(body or b"null") if body_kind == "schema" else draw(JSON)}
        ).encode()
    return Call(function, method, _path(template, known, draw), headers, body)


_OPERATIONS = {function: _operations(function) for function in ("gateway", "admin")}
GRAPHQL = st.one_of(queries(SCHEMA), mutations(SCHEMA))


@st.composite
def _greedy_query(draw: st.DrawFn) -> str:
    """The shapes that ask Mesh for too much: aliases, fragments, list sizes, depth, writes."""
    field = draw(st.sampled_from(["notes", "applets", 'searchNotes(query: "x")']))
    limit = draw(st.integers(min_value=-5, max_value=10**12))
    head = field if "(" not in field else field[:-1] + ", "
    list_field = f"{head}(limit: {limit})" if "(" not in field else f"{head}limit: {limit})"
    leaf = draw(st.sampled_from(["id", "content", "html", "title"]))
    aliases = draw(st.integers(min_value=1, max_value=300))
    shape = draw(st.sampled_from(["aliases", "fragments", "depth", "writes"]))
    if shape == "aliases":
        return "{ " + " ".join(f"a{i}: {list_field} {{ {leaf} }}" for i in range(aliases)) + " }"
    if shape == "fragments":
        spreads = " ".join(["...F"] * draw(st.integers(min_value=1, max_value=50)))
        return f"{{ {spreads} }} fragment F on Query {{ {list_field} {{ {leaf} }} }}"
    if shape == "depth":
        depth = draw(st.integers(min_value=1, max_value=40))
        return (
            '{ __type(name: "Note") { fields { type '
            + "{ ofType " * depth
            + "{ name }"
            + " }" * (depth + 3)
        )
    writes = " ".join(f'w{i}: createNote(title: "t") {{ id }}' for i in range(aliases))
    return f"mutation {{ {writes} }}"


@st.composite
def mesh_call(draw: st.DrawFn, known: Known) -> Call:
    headers = _auth("mesh", known, draw) + _content_type(draw)
    if draw(st.booleans()):  # the service token names its tenant and user in headers
        headers.append((b"x-voicefleet-tenant", draw(st.sampled_from([b"acme"]) | HEADER)))
        headers.append((b"x-voicefleet-user", draw(st.sampled_from([b"ada"]) | HEADER)))
    kind = draw(st.sampled_from(["graphql"] * 5 + ["greedy", "variables", "json", "bytes"]))
    if kind == "greedy":
        body = json.dumps({"query": draw(_greedy_query())}).encode()
    elif kind == "graphql":
        body = json.dumps({"query": draw(GRAPHQL)}).encode()
    elif kind == "variables":
        body = json.dumps({"query": draw(GRAPHQL), "variables": draw(JSON)}).encode()
    elif kind == "json":
        body = json.dumps(draw(JSON)).encode()
    else:
        body = draw(st.binary(max_size=300))
    path = draw(st.sampled_from(["/graphql"] * 19 + ["/nope"]))
    return Call("mesh", "POST", path, headers, body)
