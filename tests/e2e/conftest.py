"""The end-to-end layer's shared stack: one dev stack (harness/stack.py) for a test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.stack import RunningStack, start_stack, stop_stack_cleanly


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    """One warm runner and room for one cold start."""
    running = start_stack("--warm", "1", "--max", "2")
    yield running
    stop_stack_cleanly(running)
