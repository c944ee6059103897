"""The whole dev stack (`voicefleet dev`) as a subprocess, as a user runs it: started for the
end-to-end tests and the benchmarks alike, and stopped with Ctrl-C, as a user stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.ports import free_port

API_KEY = "e2e-key"
ADMIN_KEY = "e2e-admin-key"
MESH_TOKEN = "e2e-mesh-token"  # a Mesh user token for tenant "default", user "default"
UP_LINE = "voicefleet dev stack is up"


@dataclass
class RunningStack:
    url: str
    api_key: str
    process: subprocess.Popen[str]
    output: list[str]
    admin_url: str
    mesh_database: str
    mesh_url: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}


def children(pid: int) -> set[int]:
    """Every live descendant of pid (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_stack(*args: str, env: dict[str, str] | None = None) -> RunningStack:
    mesh_db = Path(tempfile.mkdtemp(prefix="voicefleet-e2e-")) / "mesh.db"
    port, admin_port, mesh_port = free_port(), free_port(), free_port()
    argv = ["dev", "--port", str(port), "--admin-port", str(admin_port)]
    argv += ["--mesh-port", str(mesh_port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "control.cli", *argv, *args],
        env={
            **os.environ,
            "VOICEFLEET_API_KEY": API_KEY,
            "VOICEFLEET_ADMIN_KEY": ADMIN_KEY,
            "MESH_DATABASE_URL": f"sqlite:///{mesh_db}",
            "MESH_TOKENS": f"{MESH_TOKEN}=default:default",
            **(env or {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    up = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if UP_LINE in line:
                up.set()

    threading.Thread(target=pump, daemon=True).start()
    if not up.wait(90):
        process.kill()
        raise RuntimeError("dev stack did not come up:\n" + "".join(output[-50:]))
    return RunningStack(
        f"http://127.0.0.1:{port}",
        API_KEY,
        process,
        output,
        f"http://127.0.0.1:{admin_port}",
        f"sqlite:///{mesh_db}",
        f"http://127.0.0.1:{mesh_port}/graphql",
    )


def stop_stack(stack: RunningStack) -> tuple[int, set[int]]:
    """Ctrl-C; returns the exit code and whichever started processes are still alive."""
    started = children(stack.process.pid)
    stack.process.send_signal(signal.SIGINT)
    code = stack.process.wait(60)
    deadline = time.monotonic() + 5
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    return code, {p for p in started if alive(p)}


def stop_stack_cleanly(stack: RunningStack) -> None:
    """Ctrl-C, and check the stack exited 0 and left no process behind."""
    code, left = stop_stack(stack)
    assert code == 0, "".join(stack.output[-40:])
    assert not left, f"processes left behind: {left}"
