"""Every kustomization under `knative/` builds with the real kustomize (kubectl's), gives the
documents the dev stack's builder gives, and validates; the README's deploy commands build.

The real tool is on every machine here and in CI (kubectl 1.32, kustomize 5.5); the tests that
need it skip where it is not installed, and the builder's own checks run everywhere.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.kustomize import (
    KustomizeError,
    build,
    build_checked,
    build_with_kustomize,
    identity,
    kustomize_command,
)
from devstack.manifests import knative_root, load_documents, overlay_dir
from tests.support.schemas import CRD_FILES, MODELS, errors

REPO_ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZATIONS = sorted(p.parent for p in knative_root().rglob("kustomization.yaml"))
NAMES = [str(p.relative_to(REPO_ROOT)) for p in KUSTOMIZATIONS]
COMMAND = kustomize_command()
needs_kustomize = pytest.mark.skipif(COMMAND is None, reason="kustomize (or kubectl) not installed")
Doc = dict[str, Any]


def _real(folder: Path) -> list[Doc]:
    assert COMMAND is not None
    return build_with_kustomize(folder, COMMAND)


def test_the_layout_has_a_base_two_overlays_and_monitoring() -> None:
    assert NAMES == [
        "knative/base",
        "knative/observability",
        "knative/overlays/dev",
        "knative/overlays/production",
    ]


@needs_kustomize
@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=NAMES)
def test_kustomize_and_the_dev_stack_build_the_same_documents(folder: Path) -> None:
    real = _real(folder)
    ours = [doc for _, doc in build(folder)]
    assert real, f"{folder} builds nothing"
    assert sorted(map(identity, real)) == sorted(map(identity, ours))
    by_identity = {identity(doc): doc for doc in ours}
    assert [doc for doc in real if by_identity[identity(doc)] != doc] == []


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=NAMES)
def test_every_built_document_validates_against_its_schema(folder: Path) -> None:
    docs = _real(folder) if COMMAND else [doc for _, doc in build(folder)]
    checked = [
        doc
        for doc in docs
        if (doc["apiVersion"].rpartition("/")[0], doc["kind"]) in CRD_FILES
        or (doc["apiVersion"], doc["kind"]) in MODELS
    ]
    if "observability" not in str(folder):
        # The Prometheus Operator's kinds have no schema here; everything else must have one.
        assert len(checked) == len(docs)
    problems = {"/".join(identity(doc)[1:]): errors(doc) for doc in checked}
    assert {k: v for k, v in problems.items() if v} == {}


def _readme_deploy_folders() -> list[str]:
    """The folders the README's deploy commands apply (`kubectl apply -k FOLDER`)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"kubectl apply -k (\S+?)[`\s]", text)


@needs_kustomize
def test_the_readmes_deploy_commands_build() -> None:
    folders = _readme_deploy_folders()
    # The README names every kustomization there is, and nothing else.
    assert {(REPO_ROOT / f).resolve() for f in folders} == set(KUSTOMIZATIONS)
    for folder in dict.fromkeys(folders):
        done = subprocess.run(
            ["kubectl", "kustomize", folder], cwd=REPO_ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, f"kubectl kustomize {folder}: {done.stderr}"
        assert list(yaml.safe_load_all(done.stdout)), f"kubectl kustomize {folder} prints nothing"


@needs_kustomize
def test_the_dev_stack_reads_kustomizes_build() -> None:
    folder = overlay_dir("production")
    assert [doc for _, doc in load_documents(folder)] == _real(folder)
    # Each document still names the file it came from, for error messages.
    sources = {doc["kind"]: path.name for path, doc in load_documents(folder)}
    assert sources["CronJob"] == "warm-pool-schedule.yaml"
    assert sources["Broker"] == "broker.yaml"


SERVICE = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "svc"},
    "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "voicefleet"}]}}},
}


def _write(folder: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))


# The layout that shipped before: the base at the top, its overlays inside it.
OVERLAY_INSIDE_ITS_BASE = {
    "kustomization.yaml": {"resources": ["svc.yaml"]},
    "svc.yaml": SERVICE,
    "overlays/dev/kustomization.yaml": {"resources": ["../../"]},
}
FILE_OUTSIDE_THE_FOLDER = {
    "svc.yaml": SERVICE,
    "overlay/kustomization.yaml": {"resources": ["../svc.yaml"]},
}


@pytest.mark.parametrize(
    "files, folder, message",
    [
        (OVERLAY_INSIDE_ITS_BASE, "overlays/dev", "cycle detected"),
        (FILE_OUTSIDE_THE_FOLDER, "overlay", "outside"),
    ],
    ids=["overlay-inside-its-base", "file-outside-the-folder"],
)
def test_the_builder_refuses_what_kustomize_refuses(
    tmp_path: Path, files: dict[str, Any], folder: str, message: str
) -> None:
    _write(tmp_path, files)
    with pytest.raises(KustomizeError, match=message) as caught:
        build(tmp_path / folder)
    assert caught.value.field == "resources"
    assert caught.value.file == (tmp_path / folder / "kustomization.yaml").resolve()
    if COMMAND is not None:
        with pytest.raises(KustomizeError) as real:
            _real(tmp_path / folder)
        assert real.value.field == "(kustomize)"


def test_a_sibling_base_builds(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "base/kustomization.yaml": {"resources": ["svc.yaml"]},
            "base/svc.yaml": SERVICE,
            "overlays/dev/kustomization.yaml": {"resources": ["../../base"]},
        },
    )
    ((_, doc),) = build_checked(tmp_path / "overlays" / "dev")
    assert doc == SERVICE


@needs_kustomize
def test_the_dev_stack_stops_where_kustomize_reads_a_file_differently(tmp_path: Path) -> None:
    # A folded scalar with a more-indented line: kustomize's YAML round trip adds a blank line.
    _write(
        tmp_path,
        {
            "kustomization.yaml": {"resources": ["config.yaml"]},
            "config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
            "  expr: >\n    first\n      indented\n",
        },
    )
    with pytest.raises(KustomizeError, match="ConfigMap/c differently") as caught:
        build_checked(tmp_path)
    assert caught.value.field == "(kustomize)"
