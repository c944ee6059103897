"""The bot's in-process publish/subscribe bus: transports and the pipeline publish typed
events, handlers subscribe (and may publish), and none of them knows the others."""

from bot.eventbus.bus import EventBus
from bot.eventbus.events import (
    AdminMessageHandled,
    AdminMessageReceived,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Event,
    KeypadPressed,
    ParticipantJoined,
    ParticipantLeft,
    SessionEnding,
    ToolCalled,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)

__all__ = [
    "AdminMessageHandled",
    "AdminMessageReceived",
    "BotStartedSpeaking",
    "BotStoppedSpeaking",
    "Event",
    "EventBus",
    "KeypadPressed",
    "ParticipantJoined",
    "ParticipantLeft",
    "SessionEnding",
    "ToolCalled",
    "Transcript",
    "UserStartedSpeaking",
    "UserStoppedSpeaking",
]
