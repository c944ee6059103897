"""An answer checked against the committed OpenAPI document, as a client generated from it
would read it: a field the document does not promise, or a type it gets wrong, fails here."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from functions.openapi import document_path


@cache
def _validator(function: str, method: str, path: str, status: int) -> Draft202012Validator:
    doc = json.loads(document_path(function).read_text())
    answer = doc["paths"][path][method.lower()]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": doc["components"]})


def assert_documented(function: str, method: str, path: str, status: int, body: Any) -> None:
    """`body`, answered with `status` to `method path` (the document's path template)."""
    errors = [e.message for e in _validator(function, method, path, status).iter_errors(body)]
    assert not errors, f"{method} {path} {status} answered what its document does not say: {errors}"
