"""CloudEvents over HTTP as the local broker moves them: parsed once, written in binary mode.

Parsing uses the ``cloudevents`` SDK (binary and structured modes). Events are then kept as string
attributes plus the data's raw bytes, rather than as SDK ``CloudEvent`` objects, because the SDK's
constructor adds a ``time`` attribute an event did not have and its ``__delitem__`` raises, and a
broker has to pass events on unchanged except for the attributes it owns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from cloudevents.exceptions import GenericException
from cloudevents.http import from_http

__all__ = ["REQUIRED_ATTRIBUTES", "BrokerEvent", "MalformedEventError", "parse_event"]

REQUIRED_ATTRIBUTES = ("id", "source", "specversion", "type")
_NAME_RE = re.compile(r"[a-z0-9]+")
# CloudEvents HTTP binding: binary-mode header values percent-encode space, '"', '%' and non-ASCII.
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


class MalformedEventError(ValueError):
    """The request does not carry a valid CloudEvent (answered 400)."""


@dataclass(frozen=True)
class BrokerEvent:
    """A CloudEvent as the broker moves it: string attributes and the data's bytes."""

    attributes: Mapping[str, str]
    data: bytes | None = None

    @property
    def id(self) -> str:
        return self.attributes["id"]

    @property
    def type(self) -> str:
        return self.attributes["type"]

    def with_attributes(self, **changes: str | None) -> BrokerEvent:
        """A copy with attributes set, or removed where the value is None."""
        attributes = {**self.attributes, **{k: v for k, v in changes.items() if v is not None}}
        for name in (k for k, v in changes.items() if v is None):
            attributes.pop(name, None)
        return BrokerEvent(attributes, self.data)

    def to_binary(self) -> tuple[dict[str, str], bytes]:
        """HTTP headers and body of this event in binary content mode."""
        headers = {f"ce-{k}": quote(v, safe=_HEADER_SAFE) for k, v in self.attributes.items()}
        if "ce-datacontenttype" in headers:
            headers["content-type"] = self.attributes["datacontenttype"]
            del headers["ce-datacontenttype"]
        return headers, self.data or b""


def parse_event(headers: Mapping[str, str], body: bytes) -> BrokerEvent:
    """Read a CloudEvent from an HTTP message in binary or structured (JSON) mode."""
    headers = {k.lower(): v for k, v in headers.items()}
    binary = "ce-specversion" in headers
    if binary:
        missing = [f"ce-{name}" for name in REQUIRED_ATTRIBUTES if f"ce-{name}" not in headers]
        if missing:
            raise MalformedEventError(f"binary-mode event without {', '.join(missing)}")
        headers = {k: unquote(v) if k.startswith("ce-") else v for k, v in headers.items()}
    try:
        event = from_http(headers, body, data_unmarshaller=_keep_bytes)
        had_time = "ce-time" in headers if binary else "time" in json.loads(body)
    except (GenericException, ValueError, TypeError, AttributeError) as exc:
        raise MalformedEventError(f"not a CloudEvent: {exc}") from exc
    attributes = {k: _attribute(k, v) for k, v in event.get_attributes().items() if v is not None}
    if not had_time:  # the SDK's CloudEvent adds a time; the broker must not
        attributes.pop("time", None)
    for name in REQUIRED_ATTRIBUTES:
        if not attributes.get(name):
            raise MalformedEventError(f"attribute {name!r} must not be empty")
    data = event.get_data()
    if isinstance(data, bytes) or data is None:
        return BrokerEvent(attributes, data)
    # Structured mode "data" is a JSON value; without datacontenttype it is application/json.
    content_type = attributes.setdefault("datacontenttype", "application/json")
    if isinstance(data, str) and not _is_json(content_type):
        return BrokerEvent(attributes, data.encode())
    return BrokerEvent(attributes, json.dumps(data).encode())


def _keep_bytes(content: str | bytes | None) -> Any:
    """Data unmarshaller: binary bodies stay bytes; structured ``data`` is decoded JSON."""
    if content is None or content in ("", b""):
        return None
    return content if isinstance(content, bytes) else json.loads(content)


def _attribute(name: str, value: Any) -> str:
    if not _NAME_RE.fullmatch(name):
        raise MalformedEventError(f"attribute name {name!r} is not lowercase letters and digits")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    raise MalformedEventError(f"attribute {name!r} must be a string, integer or boolean")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")
