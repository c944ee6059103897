"""The kustomize base and its overlays: each builds, every document is well formed for its
kind, and each environment holds what it promises (durable delivery, sizing, who may send what).

The builder is `devstack.kustomize` (the dev stack reads overlays with it); its own tests at the
end check the operations it accepts and what it refuses.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.kustomize import KustomizeError, build
from devstack.manifests import (
    ADMIN_SERVICE,
    GATEWAY_SERVICE,
    RECORDS_SERVICE,
    RUNNER_SERVICE,
    default_knative_dir,
    load_config_env,
    load_runner_scaling,
    load_triggers,
    overlay_dir,
)
from tests.support.schemas import errors
from voicefleet.contracts import LAUNCH_EVENT, SESSION_ENDED_EVENT

KNATIVE = default_knative_dir()
OVERLAYS = ["dev", "production"]
Doc = dict[str, Any]


def _docs(overlay: str) -> list[Doc]:
    return [doc for _, doc in build(overlay_dir(overlay))]


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _session_max(overlay: str) -> int:
    return int(load_config_env(overlay_dir(overlay))["RUNNER_SESSION_MAX_SECONDS"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_of_the_overlay_validates(overlay: str) -> None:
    docs = _docs(overlay)
    assert {d["kind"] for d in docs} >= {"Service", "Broker", "Trigger", "SinkBinding"}
    problems = {f"{d['kind']}/{d['metadata']['name']}": errors(d) for d in docs}
    assert {k: v for k, v in problems.items() if v} == {}
    assert all(d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "voicefleet" for d in docs)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_launch_trigger_outlasts_the_overlays_longest_session(overlay: str) -> None:
    folder = overlay_dir(overlay)
    (trigger,) = [t for t in load_triggers(folder) if t.name == "runner-launch"]
    assert trigger.timeout_s is not None and trigger.timeout_s > _session_max(overlay)
    assert load_runner_scaling(folder).timeout_s > _session_max(overlay)
    assert (trigger.dead_letter_service, trigger.dead_letter_uri_path) == (
        GATEWAY_SERVICE,
        "/deadletter",
    )


def test_schema_checks_catch_mistakes_in_core_kinds() -> None:
    budget = copy.deepcopy(_one(_docs("production"), "PodDisruptionBudget", RUNNER_SERVICE))
    budget["spec"]["maxUnavailabe"] = 1
    budget["spec"]["selector"]["matchLabels"] = ["not", "a", "mapping"]
    found = errors(budget)
    assert any("maxUnavailabe" in e for e in found) and any("matchLabels" in e for e in found)


def test_dev_uses_the_in_memory_broker_and_a_small_pool() -> None:
    docs = _docs("dev")
    broker = _one(docs, "Broker", "voicefleet")
    assert broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == (
        "MTChannelBasedBroker"
    )
    scaling = load_runner_scaling(overlay_dir("dev"))
    assert (scaling.min_scale, scaling.max_scale) == (1, 3)
    # The in-memory channel gives up after ~15 minutes: sessions and delivery stay below.
    for trigger in load_triggers(overlay_dir("dev")):
        assert trigger.timeout_s is None or trigger.timeout_s < 15 * 60


def test_production_broker_is_kafka_with_its_config_and_a_dead_letter_sink() -> None:
    docs = _docs("production")
    broker = _one(docs, "Broker", "voicefleet")
    assert broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    config = broker["spec"]["config"]
    kafka = _one(docs, config["kind"], config["name"])
    assert {"bootstrap.servers", "default.topic.partitions"} <= set(kafka["data"])
    assert broker["spec"]["delivery"]["deadLetterSink"]["ref"]["name"] == GATEWAY_SERVICE
    trigger = _one(docs, "Trigger", "runner-launch")
    # Held launches must not block a partition: unordered delivery, chosen explicitly.
    assert trigger["metadata"]["annotations"]["kafka.eventing.knative.dev/delivery.order"] == (
        "unordered"
    )


def test_production_runner_packs_calls_with_a_memory_limit_and_no_cpu_limit() -> None:
    runner = _one(_docs("production"), "Service", RUNNER_SERVICE)
    (container,) = runner["spec"]["template"]["spec"]["containers"]
    resources = container["resources"]
    assert resources["requests"] == {"cpu": "1", "memory": "768Mi"}
    assert resources["limits"] == {"memory": "1536Mi"}
    # Everything else about the container is the base's (JSON 6902 patches changed the
    # resources and the slots, which follow containerConcurrency).
    base = _one([d for _, d in build(KNATIVE)], "Service", RUNNER_SERVICE)
    (base_container,) = base["spec"]["template"]["spec"]["containers"]
    changed = ("resources", "env")
    assert {k: v for k, v in container.items() if k not in changed} == {
        k: v for k, v in base_container.items() if k not in changed
    }
    assert [e for e in container["env"] if e["name"] != "RUNNER_SLOTS"] == [
        e for e in base_container["env"] if e["name"] != "RUNNER_SLOTS"
    ]
    scaling = load_runner_scaling(overlay_dir("production"))
    assert scaling.min_scale >= 2 and scaling.container_concurrency == 4


def test_production_budgets_select_the_services_pods() -> None:
    docs = _docs("production")
    for name in (RUNNER_SERVICE, GATEWAY_SERVICE):
        budget = _one(docs, "PodDisruptionBudget", name)
        # Knative labels every pod of a Service with its name.
        assert budget["spec"]["selector"]["matchLabels"] == {"serving.knative.dev/service": name}
    assert _one(docs, "PodDisruptionBudget", RUNNER_SERVICE)["spec"]["maxUnavailable"] == "10%"


def test_production_event_policies_let_only_the_gateway_send_launches() -> None:
    docs = _docs("production")
    policies = [d for d in docs if d["kind"] == "EventPolicy"]
    for policy in policies:
        assert policy["spec"]["to"] == [
            {
                "ref": {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "name": "voicefleet",
                }
            }
        ]
    senders = {
        policy["spec"]["filters"][0]["exact"]["type"]: [f["ref"] for f in policy["spec"]["from"]]
        for policy in policies
    }
    (gateway_sender,) = senders[LAUNCH_EVENT]
    binding = _one(docs, gateway_sender["kind"], gateway_sender["name"])
    assert binding["spec"]["subject"]["name"] == GATEWAY_SERVICE
    (reply_sender,) = senders[SESSION_ENDED_EVENT]
    assert (reply_sender["kind"], reply_sender["name"]) == ("Trigger", "runner-launch")
    # Runners send their session events; records and admin (replays) webhook deliveries.
    for event in ("io.voicefleet.session.started", "io.voicefleet.session.report"):
        (runner_sender,) = senders[event]
        binding = _one(docs, runner_sender["kind"], runner_sender["name"])
        assert binding["spec"]["subject"]["name"] == RUNNER_SERVICE
    delivery_senders = senders["io.voicefleet.webhook.delivery"]
    assert {
        _one(docs, s["kind"], s["name"])["spec"]["subject"]["name"] for s in delivery_senders
    } == {
        RECORDS_SERVICE,
        ADMIN_SERVICE,
    }
    assert len(senders) == 5


def test_production_network_policies_cover_the_cluster_local_services() -> None:
    docs = _docs("production")
    covered = {
        d["spec"]["podSelector"]["matchLabels"]["serving.knative.dev/service"]
        for d in docs
        if d["kind"] == "NetworkPolicy"
    }
    assert covered == {RUNNER_SERVICE, ADMIN_SERVICE, RECORDS_SERVICE}
    for name in covered:
        service = _one(docs, "Service", name)
        assert service["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


@pytest.mark.parametrize("name", [GATEWAY_SERVICE, ADMIN_SERVICE, RUNNER_SERVICE, RECORDS_SERVICE])
def test_every_service_is_scraped_on_its_own_port(name: str) -> None:
    service = _one([d for _, d in build(KNATIVE)], "Service", name)
    annotations = service["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    (container,) = service["spec"]["template"]["spec"]["containers"]
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


@pytest.mark.parametrize("kustomization", [KNATIVE, *(overlay_dir(o) for o in OVERLAYS)])
def test_a_launch_reaches_only_a_pod_with_a_free_slot(kustomization: Path) -> None:
    runner = _one([d for _, d in build(kustomization)], "Service", RUNNER_SERVICE)
    template = runner["spec"]["template"]
    (container,) = template["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # The pod forks as many slots as Knative lets launches in, and the activator (always in
    # the path) sends a launch only to a pod whose in-flight launches leave a slot free.
    assert env["RUNNER_SLOTS"] == str(template["spec"]["containerConcurrency"])
    assert template["spec"]["containerConcurrency"] >= 1
    annotations = template["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/target-burst-capacity"] == "-1"
    assert 0 < int(annotations["autoscaling.knative.dev/target-utilization-percentage"]) <= 100
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_runner_probes_mean_what_knative_needs() -> None:
    runner = _one([d for _, d in build(KNATIVE)], "Service", RUNNER_SERVICE)
    (container,) = runner["spec"]["template"]["spec"]["containers"]
    # Readiness is "loaded and not draining" (a full pod stays ready), probed by queue-proxy
    # as fast as it can (no period); liveness is only "serving"; a cold start gets time.
    assert container["readinessProbe"] == {"httpGet": {"path": "/readyz"}}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/healthz"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


@pytest.mark.parametrize("name", [GATEWAY_SERVICE, ADMIN_SERVICE])
def test_functions_are_ready_when_they_serve(name: str) -> None:
    service = _one([d for _, d in build(KNATIVE)], "Service", name)
    (container,) = service["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"] == {"httpGet": {"path": "/healthz"}}


def test_the_dev_stack_reads_an_overlay_and_its_settings() -> None:
    assert overlay_dir("dev") == KNATIVE.parent / "overlays" / "dev"
    assert load_config_env(overlay_dir("dev"))["RUNNER_SESSION_MAX_SECONDS"] == "600"
    assert load_config_env(KNATIVE)["RUNNER_SESSION_MAX_SECONDS"] == "3600"
    with pytest.raises(ValueError, match="staging"):
        overlay_dir("staging")


# --- the builder ------------------------------------------------------------------------------


def _write(folder: Path, files: dict[str, Any]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return folder


SERVICE = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "svc"},
    "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "voicefleet"}]}}},
}


def test_json6902_patches_and_images_apply_in_order(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "base/kustomization.yaml": {"resources": ["svc.yaml"]},
            "base/svc.yaml": SERVICE,
            "kustomization.yaml": {
                "resources": ["base"],
                "patches": [{"path": "ops.yaml", "target": {"kind": "Service", "name": "svc"}}],
                "images": [{"name": "voicefleet", "newName": "reg.example/vf", "newTag": "1.2"}],
                "namespace": "calls",
            },
            "ops.yaml": [
                {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "b"}},
                {"op": "replace", "path": "/spec/template/spec/containers/0/name", "value": "x"},
                {"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}},
            ],
        },
    )
    ((_, doc),) = build(tmp_path)
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "x", "image": "reg.example/vf:1.2"}, {"name": "b"}]
    assert doc["metadata"] == {"name": "svc", "annotations": {"k": "v"}, "namespace": "calls"}


@pytest.mark.parametrize(
    "kustomization, files, field",
    [
        ({"resources": ["gone.yaml"]}, {}, "resources"),
        ({"resources": ["svc.yaml"], "replicas": []}, {}, "replicas"),
        ({"resources": ["svc.yaml"], "patches": [{"path": "p.yaml"}]},
         {"p.yaml": {**SERVICE, "spec": {"template": {"spec": {"containers": []}}}}},
         "spec.template.spec.containers"),
        ({"resources": ["svc.yaml"], "patches": [{"path": "p.yaml"}]},
         {"p.yaml": {"kind": "Service", "metadata": {"name": "other"}}}, "patches[0]"),
        ({"resources": ["svc.yaml"], "patches": [{"path": "p.yaml", "target": {"kind": "Service",
          "name": "svc"}}]}, {"p.yaml": [{"op": "remove", "path": "/spec/nothing"}]}, "[0].path"),
    ],
)  # fmt: skip
def test_what_the_builder_cannot_do_exactly_is_an_error(
    tmp_path: Path, kustomization: Doc, files: dict[str, Any], field: str
) -> None:
    _write(tmp_path, {"kustomization.yaml": kustomization, "svc.yaml": SERVICE, **files})
    with pytest.raises(KustomizeError) as caught:
        build(tmp_path)
    assert caught.value.field == field
