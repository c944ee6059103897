"""Tracing starts where it can run: a runner zygote imports the runner before it forks, and an
exporter's thread at that moment would make every fork unsafe; the forked runner turns traces
on in standby. Run in a fresh interpreter, as a zygote is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import threading
import runner.standby  # what a zygote imports before it forks
from opentelemetry import trace
before = (threading.active_count(), type(trace.get_tracer_provider()).__name__)
from voicefleet import observability
from voicefleet.observability import tracing
observability.setup("runner", reread=True)  # what standby does in the forked child
print(before, tracing.enabled(), type(trace.get_tracer_provider()).__name__)
"""


def test_importing_the_runner_starts_no_exporter_thread_and_standby_turns_traces_on() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "(1, 'ProxyTracerProvider') True TracerProvider"
