"""The Knative manifests: well formed for their CRDs, and holding what the design relies on.

Schema checks use the CRDs in ``../shared/knative-crds/`` (structure and types only; Knative's
webhooks check annotation values, so the invariants below check those). The loader tests cover
``devstack.manifests``, which the dev stack uses to run what these files describe.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from devstack.manifests import (
    ADMIN_SERVICE,
    GATEWAY_SERVICE,
    RECORDS_SERVICE,
    RUNNER_SERVICE,
    ManifestError,
    default_knative_dir,
    load_documents,
    load_runner_scaling,
    load_triggers,
    parse_go_duration,
    parse_iso8601_duration,
)
from tests.support.schemas import errors
from voicefleet.contracts import LAUNCH_EVENT

REPO_ROOT = Path(__file__).resolve().parents[2]
KNATIVE_DIR = REPO_ROOT / "knative" / "base"
# ConfigMap is core Kubernetes (no CRD): its shape as the API server enforces it.
CONFIGMAP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "metadata": {"type": "object", "required": ["name"]},
        "data": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

Doc = dict[str, Any]
DOCUMENTS = load_documents(KNATIVE_DIR)


def _doc(kind: str, name: str) -> Doc:
    found = [d for _, d in DOCUMENTS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind} named {name}"
    return found[0]


def _container(service: str) -> Doc:
    containers = _doc("Service", service)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def _session_max_seconds() -> int:
    return int(_doc("ConfigMap", "voicefleet-config")["data"]["RUNNER_SESSION_MAX_SECONDS"])


def _errors(doc: Doc) -> list[str]:
    if doc["apiVersion"] == "v1" and doc["kind"] == "ConfigMap":
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in Draft7Validator(CONFIGMAP_SCHEMA).iter_errors(doc)
        ]
    return errors(doc)


@pytest.mark.parametrize(
    "path, doc",
    DOCUMENTS,
    ids=[f"{p.name}:{d['kind']}/{d['metadata']['name']}" for p, d in DOCUMENTS],
)
def test_document_validates_against_its_schema(path: Path, doc: Doc) -> None:
    assert _errors(doc) == [], path.name


def test_schema_check_catches_a_wrong_type() -> None:
    runner = copy.deepcopy(_doc("Service", RUNNER_SERVICE))
    runner["spec"]["template"]["spec"]["containerConcurrency"] = "1"
    assert any("containerConcurrency" in error for error in _errors(runner))


def test_every_manifest_in_the_folder_is_listed_in_the_kustomization() -> None:
    listed = yaml.safe_load((KNATIVE_DIR / "kustomization.yaml").read_text())["resources"]
    on_disk = {p.name for p in KNATIVE_DIR.iterdir() if p.suffix in (".yaml", ".yml")}
    assert sorted(listed) == sorted(on_disk - {"kustomization.yaml"})


def test_config_map_holds_settings_but_no_secrets() -> None:
    data = _doc("ConfigMap", "voicefleet-config")["data"]
    assert data["VOICEFLEET_ALLOWED_ROOM_HOSTS"] == "*.daily.co"
    assert _session_max_seconds() >= 60
    assert int(data["DAILY_ROOM_TTL_S"]) >= _session_max_seconds()
    secret_words = ("KEY", "TOKEN", "SECRET", "PASSWORD")
    assert not [k for k in data if any(word in k for word in secret_words)]


def test_runner_takes_one_call_per_pod_and_keeps_a_warm_pool() -> None:
    # The base runs the offline providers, which need a core per call while they answer.
    scaling = load_runner_scaling(KNATIVE_DIR)
    assert scaling.container_concurrency == 1
    assert scaling.min_scale >= 1
    assert scaling.max_scale >= scaling.min_scale
    assert scaling.scale_down_delay_s <= 3600  # Knative's upper bound for the annotation


def test_runner_timeouts_outlast_the_longest_session() -> None:
    spec = _doc("Service", RUNNER_SERVICE)["spec"]["template"]["spec"]
    assert spec["timeoutSeconds"] >= 3600
    assert spec["timeoutSeconds"] > _session_max_seconds()
    # The runner answers only when the session ends; Knative caps this at timeoutSeconds.
    assert (
        spec["timeoutSeconds"] - 60 <= spec["responseStartTimeoutSeconds"] <= spec["timeoutSeconds"]
    )
    assert spec.get("idleTimeoutSeconds", 0) == 0


def test_runner_container_runs_standby_with_probes() -> None:
    container = _container(RUNNER_SERVICE)
    assert container["command"] == ["python", "-m", "runner"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "RUNNER_AUTO_START", "value": "0"} in container["env"]


def test_gateway_is_a_scale_to_zero_function() -> None:
    service = _doc("Service", GATEWAY_SERVICE)
    annotations = service["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == "0"
    command = _container(GATEWAY_SERVICE)["command"]
    # The function and the phone calls' media streams, served as one ASGI app.
    assert command[:3] == ["uvicorn", "functions.gateway.asgi:create_app", "--factory"]
    assert command[command.index("--port") + 1] == "8080"
    spec = service["spec"]["template"]["spec"]
    assert spec["timeoutSeconds"] >= 3600 and spec["responseStartTimeoutSeconds"] >= 3600


def test_admin_is_a_cluster_local_function_with_its_own_keys() -> None:
    service = _doc("Service", ADMIN_SERVICE)
    assert service["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    command = _container(ADMIN_SERVICE)["command"]
    assert command[command.index("--target") + 1] == "admin"
    assert command[command.index("--source") + 1] == "functions/admin/main.py"
    admin_secret = {"secretRef": {"name": "voicefleet-admin-secrets", "optional": True}}
    assert admin_secret in _container(ADMIN_SERVICE)["envFrom"]
    for other in (GATEWAY_SERVICE, RUNNER_SERVICE):
        assert admin_secret not in _container(other)["envFrom"]


@pytest.mark.parametrize(
    "service", [GATEWAY_SERVICE, ADMIN_SERVICE, RUNNER_SERVICE, RECORDS_SERVICE]
)
def test_services_read_the_config_map_and_the_optional_secret(service: str) -> None:
    env_from = _container(service)["envFrom"]
    assert {"configMapRef": {"name": "voicefleet-config"}} in env_from
    assert {"secretRef": {"name": "voicefleet-secrets", "optional": True}} in env_from


def test_launch_trigger_routes_launches_to_the_runner() -> None:
    raw = _doc("Trigger", "runner-launch")
    assert raw["spec"]["subscriber"]["ref"]["apiVersion"] == "serving.knative.dev/v1"
    (trigger,) = [t for t in load_triggers(KNATIVE_DIR) if t.name == "runner-launch"]
    assert trigger.filter_attributes == {"type": LAUNCH_EVENT}
    assert trigger.subscriber_service == RUNNER_SERVICE
    assert _doc("Broker", trigger.broker)  # the broker it names is shipped
    assert trigger.retry >= 1
    assert trigger.timeout_s is not None and trigger.timeout_s > _session_max_seconds()
    assert (trigger.dead_letter_service, trigger.dead_letter_uri_path) == (
        GATEWAY_SERVICE,
        "/deadletter",
    )


@pytest.mark.parametrize(
    "service", [GATEWAY_SERVICE, RUNNER_SERVICE, ADMIN_SERVICE, RECORDS_SERVICE]
)
def test_sink_bindings_point_each_publisher_at_the_broker(service: str) -> None:
    """The gateway sends launches, runners session events, records and admin deliveries."""
    (binding,) = [
        d
        for _, d in DOCUMENTS
        if d["kind"] == "SinkBinding" and d["spec"]["subject"].get("name") == service
    ]
    assert binding["spec"]["subject"] == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "name": service,
    }
    sink = binding["spec"]["sink"]["ref"]
    assert (sink["apiVersion"], sink["kind"], sink["name"]) == (
        "eventing.knative.dev/v1",
        "Broker",
        "voicefleet",
    )


# --- loader -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("PT0.2S", 0.2),
        ("PT65M", 3900.0),
        ("PT1H", 3600.0),
        ("P1DT2H", 93600.0),
        ("PT1M30.5S", 90.5),
    ],
)
def test_iso8601_durations(text: str, seconds: float) -> None:
    assert parse_iso8601_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "1H", "P1Y", "P1M", "PT-1S", "PT1X"])
def test_bad_iso8601_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso8601_duration(text)


@pytest.mark.parametrize(
    "text, seconds",
    [("60s", 60.0), ("1m", 60.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("250ms", 0.25), ("0", 0.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "60", "1d", "m", "1m 2s"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_loader_reads_the_shipped_manifests() -> None:
    assert default_knative_dir() == KNATIVE_DIR
    scaling = load_runner_scaling(default_knative_dir())
    assert scaling.model_dump() == {
        "min_scale": 2,
        "max_scale": 20,
        "scale_down_delay_s": 60.0,
        "container_concurrency": 1,
        "timeout_s": 3900,
        "cpu_request": 1.0,
    }
    (trigger,) = [t for t in load_triggers(default_knative_dir()) if t.name == "runner-launch"]
    assert (trigger.retry, trigger.backoff_policy, trigger.backoff_delay_s) == (
        5,
        "exponential",
        0.2,
    )
    assert trigger.timeout_s == 3900.0
    assert trigger.subscriber_uri_path == ""


def _write_manifests(folder: Path, edit: dict[str, Any]) -> Path:
    """Copy the shipped manifests into ``folder``, changing documents by (kind, name)."""
    names = yaml.safe_load((KNATIVE_DIR / "kustomization.yaml").read_text())["resources"]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({"resources": names}))
    for name in names:
        docs = list(yaml.safe_load_all((KNATIVE_DIR / name).read_text()))
        for doc in docs:
            change = edit.get(f"{doc['kind']}/{doc['metadata']['name']}")
            if change is not None:
                change(doc)
        (folder / name).write_text(yaml.safe_dump_all(docs))
    return folder


def _runner_spec(doc: Doc) -> Doc:
    spec: Doc = doc["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize(
    "target, change, file, field",
    [
        (
            f"Service/{RUNNER_SERVICE}",
            lambda d: _runner_spec(d).pop("containerConcurrency"),
            "runner-service.yaml",
            "spec.template.spec.containerConcurrency",
        ),
        (
            f"Service/{RUNNER_SERVICE}",
            lambda d: d["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/min-scale": 2}
            ),
            "runner-service.yaml",
            "annotations[autoscaling.knative.dev/min-scale]",
        ),
        (
            f"Service/{RUNNER_SERVICE}",
            lambda d: d["spec"]["template"]["metadata"]["annotations"].update(
                {"autoscaling.knative.dev/scale-down-delay": "a minute"}
            ),
            "runner-service.yaml",
            "annotations[autoscaling.knative.dev/scale-down-delay]",
        ),
        (
            f"Service/{RUNNER_SERVICE}",
            lambda d: _runner_spec(d)["containers"][0]["resources"]["requests"].update(cpu="a lot"),
            "runner-service.yaml",
            "spec.template.spec.containers.0.resources.requests.cpu",
        ),
        (
            f"Service/{RUNNER_SERVICE}",
            lambda d: _runner_spec(d)["containers"][0]["resources"]["requests"].update(cpu="0"),
            "runner-service.yaml",
            "spec.template.spec.containers.0.resources.requests.cpu",
        ),
        (
            "Trigger/runner-launch",
            lambda d: d["spec"]["delivery"].update({"backoffDelay": "soon"}),
            "trigger.yaml",
            "spec.delivery.backoffDelay",
        ),
        (
            "Trigger/runner-launch",
            lambda d: d["spec"]["delivery"].update({"backoffPolicy": "random"}),
            "trigger.yaml",
            "spec.delivery.backoffPolicy",
        ),
        (
            "Trigger/runner-launch",
            lambda d: d["spec"].update({"filters": [{"exact": {"type": LAUNCH_EVENT}}]}),
            "trigger.yaml",
            "spec.filters",
        ),
        (
            "Trigger/runner-launch",
            lambda d: d["spec"]["subscriber"].pop("ref"),
            "trigger.yaml",
            "spec.subscriber.ref",
        ),
    ],
)
def test_bad_manifest_names_file_and_field(
    tmp_path: Path, target: str, change: Any, file: str, field: str
) -> None:
    folder = _write_manifests(tmp_path, {target: change})
    with pytest.raises(ManifestError) as caught:
        load_runner_scaling(folder)
        load_triggers(folder)
    assert caught.value.field == field
    assert caught.value.file.name == file
    assert file in str(caught.value) and field in str(caught.value)


def test_missing_resource_file_is_reported(tmp_path: Path) -> None:
    folder = _write_manifests(tmp_path, {})
    (folder / "trigger.yaml").unlink()
    with pytest.raises(ManifestError, match=r"trigger\.yaml") as caught:
        load_triggers(folder)
    assert caught.value.field == "resources"


def test_trigger_without_delivery_inherits_the_brokers(tmp_path: Path) -> None:
    broker_delivery = {"retry": 3, "backoffPolicy": "linear", "backoffDelay": "PT1S"}
    folder = _write_manifests(
        tmp_path,
        {
            "Trigger/runner-launch": lambda d: d["spec"].pop("delivery"),
            "Broker/voicefleet": lambda d: d.update({"spec": {"delivery": broker_delivery}}),
        },
    )
    (trigger,) = [t for t in load_triggers(folder) if t.name == "runner-launch"]
    assert (trigger.retry, trigger.backoff_policy, trigger.backoff_delay_s) == (3, "linear", 1.0)
    assert trigger.timeout_s is None and trigger.dead_letter_service is None
