"""Logs as one JSON object a line (for a cluster's log pipeline), or as text for people.

Every line carries the service, and inside a session the context bound with
`logger.contextualize` (`session_id`, `tenant`, `runner`) and the current trace (`trace_id`,
`span_id`), so one call can be followed across gateway, runner and bot by a log query, or
opened as a trace. Libraries that log through the standard `logging` module (uvicorn, aiortc)
are routed here too, so no line escapes the format.

Secrets are kept out where they are handled (keys are never formatted into messages); as a
last line of defence a bearer token or a password in a URL that reaches a line is masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger
from opentelemetry import trace

if TYPE_CHECKING:
    from loguru import Message, Record

# Context keys bound inside a session (runner.service, functions.gateway.launcher).
CONTEXT_KEYS = ("session_id", "tenant", "runner")

_MASKS = (
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(://[^:/@\s]*:)[^@/\s]+@"), r"\1[redacted]@"),
    (re.compile(r"(?i)\b((?:token|api_key|apikey|password|secret)[\"']?\s*[=:]\s*[\"']?)[^\s\"',&;]+"),
     r"\1[redacted]"),
)  # fmt: skip


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def _trace_ids() -> dict[str, str]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }


def json_line(record: Record, service: str) -> str:
    entry: dict[str, Any] = {
        "time": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "service": service,
        "message": record["message"],
        "logger": record["name"],
        "function": record["function"],
        "line": record["line"],
    }
    for key, bound in record["extra"].items():
        entry[key] = bound if isinstance(bound, str | int | float | bool) else repr(bound)
    entry.update(_trace_ids())
    if record["exception"] is not None:
        kind, error, tb = record["exception"]
        entry["exception"] = mask("".join(traceback.format_exception(kind, error, tb)))
    return json.dumps(entry, ensure_ascii=False)


class JsonSink:
    def __init__(self, service: str, stream: TextIO | None = None) -> None:
        self._service = service
        self._stream = stream

    def __call__(self, message: Message) -> None:
        stream = self._stream or sys.stderr
        stream.write(json_line(message.record, self._service) + "\n")
        stream.flush()


def _text_format(record: Record) -> str:
    context = " ".join(f"{k}={record['extra'][k]}" for k in CONTEXT_KEYS if k in record["extra"])
    record["extra"]["_context"] = f" [{context}]" if context else ""
    return (
        "<green>{time:HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
        "<cyan>{name}</cyan>{extra[_context]} - <level>{message}</level>\n{exception}"
    )


class _ToLoguru(logging.Handler):
    """The standard library's records, re-emitted through loguru under their own logger name
    (`uvicorn.error`, `aioice.ice`) and source line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno

        def origin(entry: Record) -> None:
            entry["name"] = record.name
            entry["function"] = record.funcName
            entry["line"] = record.lineno

        logger.patch(origin).opt(exception=record.exc_info).log(level, record.getMessage())


def _mask_message(record: Record) -> None:
    record["message"] = mask(record["message"])


def configure(service: str, *, log_format: str, level: str) -> None:
    """Replace loguru's default sink with the chosen format, for this whole process."""
    logger.remove()
    logger.configure(patcher=_mask_message)
    if log_format == "text":
        logger.add(sys.stderr, level=level, format=_text_format, colorize=None)
    else:
        logger.add(JsonSink(service), level=level, format="{message}")
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.WARNING, force=True)
