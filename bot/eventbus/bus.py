"""An in-process async bus with typed subscriptions.

Subscribers of an event run in subscription order and one failing does not stop the others
(it is logged with the event); a subscriber may publish, and that event is delivered before
`publish` returns, so causality is preserved without queues.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from loguru import logger

from bot.eventbus.events import Event

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[type[Event], list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._subscribers[event_type].append(handler)

    async def publish(self, event: Event) -> None:
        for event_type in type(event).__mro__:
            for handler in list(self._subscribers.get(event_type, ())):
                try:
                    await handler(event)
                except Exception:  # noqa: BLE001 - one handler's bug must not silence the rest
                    logger.exception("handler {} failed on {}", handler, event)
