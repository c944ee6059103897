"""What the admin function accepts. Known message types are checked field by field; other
types are passed on (a newer bot may know them) and an older bot records them as rejected."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voicefleet.contracts import ADMIN_TEXT_MAX

TEXT_MAX = ADMIN_TEXT_MAX
MESSAGE_MAX_BYTES = 16 * 1024


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Say(_Message):
    type: Literal["say"]
    text: str = Field(min_length=1, max_length=TEXT_MAX)


class AppendContext(_Message):
    type: Literal["append_context"]
    content: str = Field(min_length=1, max_length=TEXT_MAX)
    role: Literal["system", "user"] = "system"
    respond: bool | None = None


class UpdatePrompts(_Message):
    type: Literal["update_prompts"]


class ReloadContext(_Message):
    type: Literal["reload_context"]


class EndSession(_Message):
    type: Literal["end_session"]
    text: str | None = Field(default=None, min_length=1, max_length=TEXT_MAX)


KNOWN: dict[str, type[_Message]] = {
    "say": Say,
    "append_context": AppendContext,
    "update_prompts": UpdatePrompts,
    "reload_context": ReloadContext,
    "end_session": EndSession,
}


class OtherMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")


class AdminRequest(BaseModel):
    """`POST /admin` and the data of an `io.voicefleet.admin.message` CloudEvent."""

    model_config = ConfigDict(extra="forbid")

    room_url: str | None = Field(default=None, min_length=1, max_length=2048)
    session_id: str | None = Field(default=None, min_length=1, max_length=64)
    message: dict[str, Any]

    @model_validator(mode="after")
    def _one_target(self) -> AdminRequest:
        if (self.room_url is None) == (self.session_id is None):
            raise ValueError("give exactly one of room_url and session_id")
        if len(json.dumps(self.message)) > MESSAGE_MAX_BYTES:
            raise ValueError(f"message is larger than {MESSAGE_MAX_BYTES} bytes")
        return self
