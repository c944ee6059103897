"""HTTP CloudEvent functions (functions-framework, ASGI mode): the gateway and admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def function_source(name: str) -> Path:
    """The file functions-framework loads for a function (`--source`); its target is `name`."""
    return Path(__file__).resolve().parent / name / "main.py"


def asgi_app(name: str) -> Any:
    """The function as functions-framework serves it, for running it in-process."""
    from functions_framework.aio import create_asgi_app

    return create_asgi_app(target=name, source=str(function_source(name)))  # type: ignore[no-untyped-call]
