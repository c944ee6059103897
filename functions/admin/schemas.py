"""What the admin function accepts: a target and a message (the message models are the bot's
own, `voicefleet/admin_messages.py`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voicefleet.admin_messages import MESSAGE_MAX_BYTES


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
