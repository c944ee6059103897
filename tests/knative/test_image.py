"""The Containerfile stays within what `scripts/image_check.py` rebuilds without a container
engine, installs the tested versions, and CI knows when the check must run again."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _image_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("image_check", REPO / "scripts/image_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["image_check"] = module
    spec.loader.exec_module(module)
    return module


CHECK = _image_check()
STAGES = CHECK.parse_containerfile((REPO / "Containerfile").read_text(encoding="utf-8"))


def test_every_stage_is_on_one_named_debian_release() -> None:
    assert {CHECK.release_of(stage.base) for stage in STAGES} == {"bookworm"}


def test_the_image_installs_the_tested_versions_and_runs_the_runner() -> None:
    runs = [rest for stage in STAGES for kind, rest in stage.steps if kind == "RUN"]
    installs = [run for run in runs if run.startswith("pip install")]
    assert installs == ['pip install -c constraints.txt ".[offline]"']
    final = dict(STAGES[-1].steps)
    assert final["CMD"] == '["python", "-m", "runner"]'
    assert final["USER"].isdigit()  # numeric, so Kubernetes can verify runAsNonRoot


def test_an_instruction_the_check_cannot_rebuild_is_refused() -> None:
    with pytest.raises(SystemExit, match="ARG"):
        CHECK.parse_containerfile("FROM python:3.11-slim-bookworm\nARG VERSION=1\n")
    with pytest.raises(SystemExit, match="names no Debian release"):
        CHECK.release_of("python:3.11-slim")


def test_ci_runs_the_check_when_its_inputs_change() -> None:
    recorded = CHECK.RECORD.read_text().strip()
    # What .ci/run asks: nothing to do while the inputs hash to the recorded value.
    if recorded == CHECK.inputs_hash():
        done = subprocess.run(
            [sys.executable, "scripts/image_check.py", "--if-changed"],
            cwd=REPO, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "unchanged since the recorded check" in done.stdout
    assert "scripts/image_check.py --if-changed" in (REPO / ".ci/run").read_text()
