"""CloudEvents in and out over HTTP, binary and structured, with errors a client can act on.

The `cloudevents` SDK does the parsing; this module turns its exceptions into one named error
and pins the encoding voicefleet emits (binary mode, JSON data), which is what Knative's
broker and functions-framework both accept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http, to_binary


class InvalidCloudEvent(ValueError):
    """The request claims to be a CloudEvent but is not a valid one."""


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "")
    return "ce-specversion" in headers or content_type.startswith("application/cloudevents")


def parse(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    try:
        event = from_http(dict(headers), body)
    except (GenericException, ValueError, TypeError, RecursionError) as exc:
        raise InvalidCloudEvent(f"invalid CloudEvent: {exc}") from exc
    return event


def data_of(event: CloudEvent) -> dict[str, Any]:
    """The event's data as a JSON object (raw bytes are decoded; anything else is refused)."""
    data = event.get_data()
    if isinstance(data, bytes | bytearray):
        try:
            data = json.loads(data) if data else {}
        except (ValueError, RecursionError) as exc:
            raise InvalidCloudEvent("CloudEvent data is not JSON") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidCloudEvent("CloudEvent data must be a JSON object")
    return data


def encode(
    event_type: str,
    source: str,
    data: Mapping[str, Any],
    *,
    event_id: str | None = None,
    extensions: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a binary-mode CloudEvent."""
    attributes: dict[str, Any] = {
        "type": event_type,
        "source": source,
        "id": event_id or uuid.uuid4().hex,
        "datacontenttype": "application/json",
    }
    attributes.update(extensions or {})
    headers, body = to_binary(CloudEvent(attributes, dict(data)))
    return dict(headers), body if isinstance(body, bytes) else str(body).encode()
