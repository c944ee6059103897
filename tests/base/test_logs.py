"""Log lines as a log pipeline reads them: one JSON object each, with the session's context and
its trace, and with secrets masked if one ever reaches a message."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from loguru import logger
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from voicefleet.observability.logs import JsonSink, _mask_message, mask


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    sink = logger.add(JsonSink("runner", stream), format="{message}", level="DEBUG")
    yield stream
    logger.remove(sink)


def _entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_carries_service_session_context_and_trace(lines: io.StringIO) -> None:
    span = NonRecordingSpan(
        SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    )
    with (
        trace.use_span(span),
        logger.contextualize(session_id="s1", tenant="acme", runner="runner-7"),
    ):
        logger.info("session {} claimed", "s1")
    (entry,) = _entries(lines)
    assert entry["service"] == "runner" and entry["level"] == "INFO"
    assert entry["message"] == "session s1 claimed"
    assert (entry["session_id"], entry["tenant"], entry["runner"]) == ("s1", "acme", "runner-7")
    assert entry["trace_id"] == format(0xABC, "032x") and entry["span_id"] == format(0xDEF, "016x")


def test_an_exception_is_one_line_too(lines: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    (entry,) = _entries(lines)
    assert "ValueError: boom" in str(entry["exception"])


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Authorization: Bearer sk-live-123", "sk-live-123"),
        ("redis://:hunter2@redis:6379/0", "hunter2"),
        ("https://x.daily.co/room?token=eyJabc.def", "eyJabc.def"),
        ('{"api_key": "abc123"}', "abc123"),
    ],
)
def test_secrets_in_a_message_are_masked(text: str, secret: str) -> None:
    assert secret not in mask(text) and "[redacted]" in mask(text)


def test_masking_applies_to_logged_lines(lines: io.StringIO) -> None:
    logger.patch(_mask_message).info("calling with Bearer {}", "tok-999")
    (entry,) = _entries(lines)
    assert "tok-999" not in str(entry["message"])


def test_standard_library_loggers_join_the_format(lines: io.StringIO) -> None:
    import logging

    from voicefleet.observability.logs import _ToLoguru

    stdlib = logging.getLogger("tests.stdlib")
    stdlib.propagate = False  # the root logger may hold one too, once a service configured logs
    handler = _ToLoguru()
    stdlib.addHandler(handler)
    # Only this handler: another test in the process may have routed the root logger here too.
    stdlib.propagate = False
    try:
        stdlib.warning("peer %s closed", "pc1")
    finally:
        stdlib.removeHandler(handler)
        stdlib.propagate = True
    entries = [e for e in _entries(lines) if e["logger"] == "tests.stdlib"]
    assert [(e["level"], e["message"]) for e in entries] == [("WARNING", "peer pc1 closed")]
