"""The committed OpenAPI documents are the ones the functions' models produce."""

from __future__ import annotations

import pytest

from functions.openapi import document_path, rendered


@pytest.mark.parametrize("function", ["gateway", "admin"])
def test_committed_document_matches_the_models(function: str) -> None:
    assert document_path(function).read_text() == rendered(function), (
        "run: python -m functions.openapi"
    )
