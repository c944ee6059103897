"""The Grafana dashboard and the alerts read metrics that exist, with labels they have: a renamed
metric or label fails here rather than on a dashboard that quietly shows nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import voicefleet.observability.metrics  # noqa: F401 - registers every metric
from devstack.kustomize import build

FOLDER = Path(__file__).resolve().parents[2] / "knative" / "observability"
_METRIC = re.compile(r"\bvoicefleet_[a-z_]+")
_SELECTOR = re.compile(r"(voicefleet_[a-z_]+)\{([^}]*)\}")


def _families() -> dict[str, set[str]]:
    """Every sample name our metrics expose, with the labels it carries."""
    found: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else []:
            if not family.name.startswith("voicefleet_"):
                continue
            labels = set(getattr(collector, "_labelnames", ()))
            suffixes = {
                "counter": ["_total"],
                "histogram": ["_bucket", "_count", "_sum"],
                "gauge": [""],
            }[family.type]
            for suffix in suffixes:
                found[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return found


def _expressions() -> list[str]:
    dashboard = json.loads((FOLDER / "voicefleet-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    rules = [doc for _, doc in build(FOLDER) if doc["kind"] == "PrometheusRule"]
    exprs += [r["expr"] for doc in rules for g in doc["spec"]["groups"] for r in g["rules"]]
    return exprs


def test_there_are_panels_and_alerts_for_the_fleet() -> None:
    exprs = " ".join(_expressions())
    for needed in (
        "voicefleet_runner_busy",
        "voicefleet_gateway_launches_total",
        'start="cold"',
        "voicefleet_bot_stage_seconds_bucket",
        "voicefleet_admin_delivery_seconds_bucket",
    ):
        assert needed in exprs


@pytest.mark.parametrize("expr", _expressions())
def test_every_query_reads_existing_metrics_and_labels(expr: str) -> None:
    families = _families()
    for name in _METRIC.findall(expr):
        assert name in families, f"{name} is not exported"
    for name, selector in _SELECTOR.findall(expr):
        used = {part.split("=")[0].rstrip("!~").strip() for part in selector.split(",") if part}
        assert used <= families[name] | {"namespace"}, (name, used)
    for labels in re.findall(r"by \(([^)]*)\)", expr):
        names = _METRIC.findall(expr)
        allowed = set().union(*(families[n] for n in names)) | {"namespace"}
        assert {label.strip() for label in labels.split(",")} <= allowed, (labels, expr)
