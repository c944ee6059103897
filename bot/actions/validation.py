"""Input checks the actions share, so every limit is stated once."""

from __future__ import annotations

from bot.actions import ActionError

TITLE_MAX = 200
CONTENT_MAX = 100_000


def text(value: object, name: str, *, max_len: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ActionError(f"{name} must be text")
    value = value.strip()
    if required and not value:
        raise ActionError(f"{name} must not be empty")
    if len(value) > max_len:
        raise ActionError(f"{name} is longer than {max_len} characters")
    return value


def identifier(value: object, name: str) -> str:
    return text(value, name, max_len=100)
