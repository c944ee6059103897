"""The committed OpenAPI documents are the ones the functions' models produce."""

from __future__ import annotations

import importlib
import json

import pytest
from starlette.responses import Response

from functions.http.routing import Router
from functions.openapi import Undescribed, _paths, document_path, rendered


@pytest.mark.parametrize("function", ["gateway", "admin"])
def test_committed_document_matches_the_models(function: str) -> None:
    assert document_path(function).read_text() == rendered(function), (
        "run: python -m functions.openapi"
    )


@pytest.mark.parametrize("function", ["gateway", "admin"])
def test_the_document_has_every_route_the_function_serves(function: str) -> None:
    """The committed document's operations are exactly the router's routes."""
    document = json.loads(document_path(function).read_text())
    described = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    served = importlib.import_module(f"functions.{function}.main").router.served()
    assert described == set(served)


async def _nothing(request: object, context: object) -> Response:
    return Response()


def test_a_route_served_but_not_described_stops_the_build() -> None:
    router: Router[object] = Router(lambda: None)
    router.add("/healthz", _nothing, ["GET"])
    router.add("/new", _nothing, ["POST"])
    described = {"/healthz": {"get": {"summary": "liveness"}}}
    with pytest.raises(Undescribed, match="POST /new is served but not described"):
        _paths(router.served(), described)
    with pytest.raises(Undescribed, match="GET /gone is described but not served"):
        _paths(router.served()[:1], {**described, "/gone": {"get": {}}})
