"""The events on the bot's bus. Frozen dataclasses: a handler cannot change what another sees."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    at: float = field(default_factory=time.monotonic, kw_only=True)


@dataclass(frozen=True)
class ParticipantJoined(Event):
    participant_id: str
    name: str | None = None
    is_human: bool = True


@dataclass(frozen=True)
class ParticipantLeft(Event):
    participant_id: str
    reason: str | None = None


@dataclass(frozen=True)
class UserStartedSpeaking(Event):
    pass


@dataclass(frozen=True)
class UserStoppedSpeaking(Event):
    pass


@dataclass(frozen=True)
class BotStartedSpeaking(Event):
    pass


@dataclass(frozen=True)
class BotStoppedSpeaking(Event):
    pass


@dataclass(frozen=True)
class Transcript(Event):
    text: str
    participant_id: str | None = None


@dataclass(frozen=True)
class KeypadPressed(Event):
    """A key the caller pressed on a phone call (DTMF): `0`-`9`, `*` or `#`."""

    digit: str


@dataclass(frozen=True)
class ToolCalled(Event):
    name: str
    arguments: dict[str, Any]
    result: Any = None
    duration_ms: float = 0.0
    # The tool declared its arguments private: they stay out of records.
    private_arguments: bool = False


@dataclass(frozen=True)
class AdminMessageReceived(Event):
    message_id: str
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AdminMessageHandled(Event):
    """An admin message was carried out (`refused` None) or refused, with the reason."""

    message_id: str
    type: str
    refused: str | None = None


@dataclass(frozen=True)
class SessionEnding(Event):
    reason: str
