"""The base (`voicefleet/`) imports nothing above it: every service builds on it, so an import of
a service, the command line, the harness or the tests from there would run the layers' arrows
upwards. Read from the source (ast), so a late import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2] / "voicefleet"
ABOVE = {
    "functions",
    "runner",
    "bot",
    "devstack",
    "mesh",
    "control",
    "harness",
    "tests",
    "benchmarks",
}


def upward_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) for each absolute import in `source` of a package above the base."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in ABOVE]
    return found


def test_the_base_imports_nothing_above_it() -> None:
    modules = sorted(BASE.rglob("*.py"))
    assert len(modules) > 10, f"no base modules found under {BASE}"
    upward = [
        f"{path.relative_to(BASE.parent)}:{line} imports {name}"
        for path in modules
        for line, name in upward_imports(path.read_text())
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize(
    "source",
    [
        "import bot.config",
        "from devstack import ports",
        "def f():\n    from control.cli import main",
    ],
)
def test_an_upward_import_is_found(source: str) -> None:
    assert upward_imports(source)


@pytest.mark.parametrize(
    "source", ["import voicefleet.contracts", "from . import contracts", "import botocore"]
)
def test_imports_within_the_base_or_of_libraries_pass(source: str) -> None:
    assert upward_imports(source) == []
