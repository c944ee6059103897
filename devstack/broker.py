"""Local stand-in for the Knative Broker, delivering CloudEvents as the Trigger manifests say.

The dev stack runs the gateway and runners as plain processes; this broker sits between them the
way Knative's does: ``POST /`` takes an event (binary or structured mode) and answers 202 at once,
then every Trigger whose ``filter.attributes`` all match gets its own delivery task that follows the
Trigger's ``delivery`` spec. What it reproduces from Knative Eventing, because the runner and the
gateway depend on it:

- retries on timeouts, connection errors, 5xx, 404, 408, 409 and 429 only; other 4xx are final;
- backoff ``delay * 2**n`` (exponential) or ``delay * n`` (linear), n counting retries from 0
  (``kncloudevents.RetryConfigFromDeliverySpec`` with go-retryablehttp's attempt numbers);
- ``delivery.timeout`` per attempt, none if unset: a launch is held open for a whole session;
- after the last failure, the event goes to the dead-letter sink with ``knativeerrorcode``,
  ``knativeerrordest`` and ``knativeerrordata`` (base64 of the response body, at most 1024 chars);
- a 2xx response carrying a CloudEvent is a reply and is published back into the broker, with the
  ``knativebrokerttl`` hop count (default 255) guarding against reply loops.

Events are parsed and written by ``devstack.cloudevent_http``; payloads pass through byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx
from loguru import logger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.cloudevent_http import (
    REQUIRED_ATTRIBUTES,
    BrokerEvent,
    MalformedEventError,
    parse_event,
)
from devstack.manifests import TriggerSpec
from voicefleet.http_client import async_client

__all__ = [
    "BrokerEvent",
    "BrokerStats",
    "LocalBroker",
    "MalformedEventError",
    "backoff_delay",
    "matches",
    "parse_event",
]

RETRYABLE_STATUS = frozenset({404, 408, 409, 429})
TTL_ATTRIBUTE = "knativebrokerttl"
DEFAULT_TTL = 255
ERROR_DATA_MAX_CHARS = 1024
# Knative's attribute filter sees these even when an event does not set them (as "").
_STANDARD = frozenset(
    {*REQUIRED_ATTRIBUTES, "subject", "time", "dataschema", "schemaurl", "datacontenttype"}
)


@dataclass
class BrokerStats:
    """Outcome counters, for tests and the dev stack's status output."""

    delivered: int = 0  # 2xx from a subscriber
    retried: int = 0  # attempts beyond the first, over all deliveries
    dead_lettered: int = 0  # accepted by a dead-letter sink
    failed: int = 0  # lost: no dead-letter sink, or it failed too
    replies: int = 0  # reply events published back into the broker
    dropped: int = 0  # not routed because the TTL ran out (a reply loop)


def matches(filter_attributes: Mapping[str, str], event: BrokerEvent) -> bool:
    """Knative ``filter.attributes``: every value equal; an empty value only needs the attribute."""
    for name, wanted in filter_attributes.items():
        value = event.attributes.get(name, "" if name in _STANDARD else None)
        if value is None or (wanted and value != wanted):
            return False
    return True


def backoff_delay(policy: Literal["linear", "exponential"], delay_s: float, retry: int) -> float:
    """Seconds to wait before retry ``retry + 1`` (``retry`` counts from 0, as in Knative)."""
    return delay_s * retry if policy == "linear" else delay_s * 2.0**retry


@dataclass(frozen=True)
class _Attempt:
    status: int | None  # None: no HTTP response (timeout, connection error, unknown service)
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_STATUS


class LocalBroker:
    """The broker's ingress (``app``) and its delivery engine, in one asyncio event loop.

    ``resolve(service_name)`` gives the base URL of a Knative Service of the dev stack.
    """

    def __init__(
        self,
        triggers: Iterable[TriggerSpec],
        resolve: Callable[[str], str],
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.triggers = list(triggers)
        self.stats = BrokerStats()
        self._resolve = resolve
        # No pool cap and no client timeout: launches are held open for whole sessions, and the
        # per-attempt timeout comes from each Trigger.
        self._client = client or async_client(timeout=None, max_connections=None)
        self._owns_client = client is None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.app = Starlette(
            routes=[
                Route("/", self._ingress, methods=["POST"]),
                Route("/healthz", _healthz, methods=["GET"]),
            ]
        )

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def publish(self, event: BrokerEvent) -> int:
        """Start a delivery to every matching Trigger; returns how many were started."""
        if self._closed:
            return 0
        ttl = _ttl(event)
        if ttl <= 0:
            self.stats.dropped += 1
            logger.warning("dropped event {} ({}): broker TTL exhausted", event.id, event.type)
            return 0
        event = event.with_attributes(**{TTL_ATTRIBUTE: None})  # subscribers never see it
        targets = [t for t in self.triggers if matches(t.filter_attributes, event)]
        for trigger in targets:
            task = asyncio.create_task(self._deliver(trigger, event, ttl), name=trigger.name)
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        logger.debug("event {} ({}) matched {} trigger(s)", event.id, event.type, len(targets))
        return len(targets)

    async def wait_idle(self) -> None:
        """Return once no delivery is in flight, including retries, dead letters and replies."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Refuse new events, cancel in-flight deliveries (held launches too), close the client."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()
        logger.info("broker closed; cancelled {} in-flight deliveries", len(tasks))

    async def _ingress(self, request: Request) -> Response:
        if self._closed:
            return JSONResponse({"error": "broker is shutting down"}, status_code=503)
        try:
            event = parse_event(request.headers, await request.body())
        except MalformedEventError as exc:
            logger.info("rejected malformed event: {}", exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        self.publish(event)
        return Response(status_code=202)

    async def _deliver(self, trigger: TriggerSpec, event: BrokerEvent, ttl: int) -> None:
        url = self._url(trigger.subscriber_service, trigger.subscriber_uri_path)
        result = (
            await self._send(trigger, url, event, {"prefer": "reply"})
            if url
            else _Attempt(
                None, error=f"dispatch error: unknown service {trigger.subscriber_service}"
            )
        )
        if not result.ok:
            await self._dead_letter(trigger, event, url or trigger.subscriber_service, result)
            return
        self.stats.delivered += 1
        logger.info(
            "delivered {} ({}) via {} -> {}", event.id, event.type, trigger.name, result.status
        )
        content_type = result.headers.get("content-type", "")
        if "ce-specversion" in result.headers or content_type.startswith("application/cloudevents"):
            try:
                reply = parse_event(result.headers, result.body)
            except MalformedEventError as exc:
                logger.warning("ignored reply to {} from {}: {}", event.id, trigger.name, exc)
                return
            self.stats.replies += 1
            logger.info("reply {} ({}) to {} re-published", reply.id, reply.type, event.id)
            self.publish(reply.with_attributes(**{TTL_ATTRIBUTE: str(ttl - 1)}))

    async def _dead_letter(
        self, trigger: TriggerSpec, event: BrokerEvent, dest: str, failure: _Attempt
    ) -> None:
        sink = trigger.dead_letter_service
        sink_url = self._url(sink, trigger.dead_letter_uri_path) if sink else None
        if sink_url is None:
            self.stats.failed += 1
            logger.error(
                "lost {} ({}) via {}: {}", event.id, event.type, trigger.name, failure.status
            )
            return
        # As Knative: no response counts as a 500 whose body describes the dispatch error.
        body = failure.body if failure.status is not None else failure.error.encode()
        errored = event.with_attributes(
            knativeerrordest=dest,
            knativeerrorcode=str(failure.status or 500),
            knativeerrordata=base64.b64encode(body).decode()[:ERROR_DATA_MAX_CHARS] or None,
        )
        result = await self._send(trigger, sink_url, errored, {})
        if result.ok:
            self.stats.dead_lettered += 1
            logger.warning("dead-lettered {} ({}) via {}", event.id, event.type, trigger.name)
        else:
            self.stats.failed += 1
            logger.error(
                "lost {} ({}): dead-letter sink answered {}", event.id, event.type, result.status
            )

    async def _send(
        self, trigger: TriggerSpec, url: str, event: BrokerEvent, extra: dict[str, str]
    ) -> _Attempt:
        headers, body = event.to_binary()
        headers.update(extra)
        retry = 0
        while True:
            result = await self._attempt(url, headers, body, trigger.timeout_s)
            if result.ok or not result.retryable or retry >= trigger.retry:
                return result
            delay = backoff_delay(trigger.backoff_policy, trigger.backoff_delay_s, retry)
            logger.debug(
                "{} -> {} answered {}; retry in {:.3f}s", event.id, url, result.status, delay
            )
            self.stats.retried += 1
            retry += 1
            await asyncio.sleep(delay)

    async def _attempt(
        self, url: str, headers: dict[str, str], body: bytes, timeout_s: float | None
    ) -> _Attempt:
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._client.post(url, content=body, headers=headers)
        except (TimeoutError, httpx.HTTPError, httpx.InvalidURL) as exc:
            logger.debug("POST {} failed: {}", url, type(exc).__name__)
            return _Attempt(None, error=f"dispatch error: {type(exc).__name__}: {exc}".rstrip(": "))
        return _Attempt(response.status_code, response.content, response.headers)

    def _url(self, service: str, path: str) -> str | None:
        try:
            return self._resolve(service).rstrip("/") + (path or "/")
        except LookupError:
            logger.error("no URL for service {!r} in the dev stack", service)
            return None

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.opt(exception=exc).error("delivery task {} crashed", task.get_name())


async def _healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _ttl(event: BrokerEvent) -> int:
    value = event.attributes.get(TTL_ATTRIBUTE, "")
    return int(value) if value.lstrip("-").isdigit() else DEFAULT_TTL
