"""What a function holds for the life of its process: built on first use, closed on demand.

functions-framework gives an HTTP function no start-up hook, so a function's context
(settings, Redis, HTTP clients) is made by the first request and reused; it holds
connections, never per-request state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Closeable(Protocol):
    async def aclose(self) -> None: ...


C = TypeVar("C", bound=Closeable)


class ProcessContext(Generic[C]):
    def __init__(self, build: Callable[[], C]) -> None:
        self._build = build
        self._current: C | None = None

    def get(self) -> C:
        if self._current is None:
            self._current = self._build()
        return self._current

    async def reset(self) -> None:
        """Close and forget it, so the next request re-reads settings (tests, reloads)."""
        current, self._current = self._current, None
        if current is not None:
            await current.aclose()

    def forget(self) -> None:
        """Drop it without closing (its connections belong to an event loop that is gone)."""
        self._current = None
