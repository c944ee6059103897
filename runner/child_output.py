"""How the dev stack shows what its child processes print.

A child that logs JSON (the default, `voicefleet.observability`) already names its service,
session and runner on every line, so its lines go out as they are, one object a line, into
the stack's own output: wrapping them in a line of the stack's would bury them in a string.
Anything else a child prints is logged under the child's name.
"""

from __future__ import annotations

import sys

from loguru import logger


def relay(name: str, line: str) -> None:
    if line.startswith("{") and line.endswith("}"):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    elif line:
        logger.info("[{}] {}", name, line)
