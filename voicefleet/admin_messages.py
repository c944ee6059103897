"""The admin messages a bot carries out, one model each: the admin function refuses a bad one
with a 422 and the bot records it `rejected`, both by these models and in the same words.

Known types are checked field by field; other types (`OtherMessage`) are passed on by the
admin function, for a bot newer than it, and refused by a bot that does not know them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from voicefleet.contracts import ADMIN_TEXT_MAX

TEXT_MAX = ADMIN_TEXT_MAX
MESSAGE_MAX_BYTES = 16 * 1024

# What is said or told: blank text is no text.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Say(_Message):
    type: Literal["say"]
    text: Text


class AppendContext(_Message):
    type: Literal["append_context"]
    content: Text
    role: Literal["system", "user"] = "system"
    # Unset: the bot answers what a user said, and keeps a system note to itself.
    respond: bool | None = None


class UpdatePrompts(_Message):
    type: Literal["update_prompts"]


class ReloadContext(_Message):
    type: Literal["reload_context"]


class EndSession(_Message):
    type: Literal["end_session"]
    text: Text | None = None


KnownMessage = Say | AppendContext | UpdatePrompts | ReloadContext | EndSession

KNOWN: dict[str, type[KnownMessage]] = {
    "say": Say,
    "append_context": AppendContext,
    "update_prompts": UpdatePrompts,
    "reload_context": ReloadContext,
    "end_session": EndSession,
}


class OtherMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")


class InvalidMessage(ValueError):
    """What is wrong with a message, naming the field (`message.text`)."""

    def __init__(self, field: str | None, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field


def _validated(model: type[BaseModel], message: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(message)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(["message", *(str(part) for part in first["loc"])])
        raise InvalidMessage(field, first["msg"]) from exc


def known_message(message: dict[str, Any]) -> KnownMessage | None:
    """The message as its type's model; None for a type not known here; InvalidMessage."""
    kind = message.get("type")
    model = KNOWN.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None
    checked = _validated(model, message)
    assert isinstance(checked, model)
    return checked


def checked_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the admin function queues it: a known type checked, another passed on."""
    checked = known_message(message) or _validated(OtherMessage, message)
    return checked.model_dump(mode="json", exclude_none=True)
