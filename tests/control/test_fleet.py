"""`voicefleet fleet` against the Kubernetes API at its HTTP boundary.

No API server runs on this machine, so a small HTTP server stands in for it: it holds the
production overlay's runner Service (as `kustomize build` gives it, plus a status), its
revisions and pods, and the warm-pool schedule, and it records every PATCH. The CLI runs as an
operator runs it, with a kubeconfig pointing at that server; the tests assert the exact patch
bodies and check each patched object against the Knative Service CRD schema.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from control.cli import main
from control.fleet.schedule import ScheduleError, in_force, parse
from devstack.kustomize import build, merge_patch
from devstack.manifests import RUNNER_SERVICE, overlay_dir
from tests.support.schemas import crd_errors
from tests.support.threaded import serving_in_thread

NAMESPACE = "calls"
SERVICES = f"/apis/serving.knative.dev/v1/namespaces/{NAMESPACE}/services"
PRODUCTION = [doc for _, doc in build(overlay_dir("production"))]


def _production(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in PRODUCTION if d["kind"] == kind and d["metadata"]["name"] == name]
    return copy.deepcopy(doc)


# the calls a production runner pod holds (containerConcurrency, as the overlay sizes it)
SLOTS = int(
    _production("Service", RUNNER_SERVICE)["spec"]["template"]["spec"]["containerConcurrency"]
)


def _container(name: str, *, ready: bool, started: bool) -> dict[str, Any]:
    return {"name": name, "ready": ready, "started": started, "restartCount": 0,
            "image": name, "imageID": ""}  # fmt: skip


def _pod(
    name: str,
    *,
    started: bool = True,
    ready: bool = True,
    deleting: bool = False,
    live_calls: int | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {"serving.knative.dev/service": RUNNER_SERVICE},
    }
    if live_calls is not None:  # the runner keeps its deletion cost at its live calls
        metadata["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(live_calls)}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    statuses = [
        _container("runner", ready=ready, started=started),
        _container("queue-proxy", ready=True, started=True),
    ]
    return {"metadata": metadata, "status": {"phase": "Running", "containerStatuses": statuses}}


@dataclass
class FakeKubeAPI:
    service: dict[str, Any] = field(default_factory=lambda: _production("Service", RUNNER_SERVICE))
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    schedule: dict[str, Any] = field(
        default_factory=lambda: _production("ConfigMap", "voicefleet-warm-pool-schedule")
    )

    def __post_init__(self) -> None:
        self.service["metadata"]["namespace"] = NAMESPACE
        self.service["status"] = {
            "conditions": [{"type": "Ready", "status": "True"}],
            "traffic": [{"revisionName": "voicefleet-runner-00002", "percent": 100}],
        }

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(SERVICES + "/{name}", self._service, methods=["GET", "PATCH"]),
                Route(
                    f"/apis/serving.knative.dev/v1/namespaces/{NAMESPACE}/revisions",
                    self._revisions,
                ),
                Route(f"/api/v1/namespaces/{NAMESPACE}/pods", self._pods),
                Route(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{{name}}", self._config_map),
            ]
        )

    async def _service(self, request: Request) -> Response:
        if request.path_params["name"] != RUNNER_SERVICE:
            return JSONResponse({"kind": "Status", "code": 404, "reason": "NotFound"}, 404)
        if request.method == "PATCH":
            body = json.loads(await request.body())
            self.patches.append((request.headers["content-type"], body))
            merge_patch(self.service, body)
        return JSONResponse(self.service)

    async def _revisions(self, request: Request) -> Response:
        assert (
            request.query_params["labelSelector"] == f"serving.knative.dev/service={RUNNER_SERVICE}"
        )
        items = [
            {"metadata": {"name": "voicefleet-runner-00001"},
             "status": {"conditions": [{"type": "Ready", "status": "True"}], "actualReplicas": 1}},
            {"metadata": {"name": "voicefleet-runner-00002"},
             "status": {"conditions": [{"type": "Ready", "status": "True"}], "actualReplicas": 4}},
        ]  # fmt: skip
        return JSONResponse({"apiVersion": "serving.knative.dev/v1", "kind": "RevisionList",
                             "items": items})  # fmt: skip

    async def _pods(self, request: Request) -> Response:
        assert (
            request.query_params["labelSelector"] == f"serving.knative.dev/service={RUNNER_SERVICE}"
        )
        pods = [_pod("a", live_calls=1), _pod("b"), _pod("c", live_calls=SLOTS),
                _pod("d", started=False), _pod("e", ready=False, deleting=True)]  # fmt: skip
        return JSONResponse({"apiVersion": "v1", "kind": "PodList", "items": pods})

    async def _config_map(self, request: Request) -> Response:
        if request.path_params["name"] != self.schedule["metadata"]["name"]:
            return JSONResponse({"kind": "Status", "code": 404, "reason": "NotFound"}, 404)
        return JSONResponse(self.schedule)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKubeAPI]:
    fake = FakeKubeAPI()
    with serving_in_thread(fake.app()) as url:
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": url}}],
            "users": [{"name": "operator", "user": {"token": "operator-token"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "operator",
                                                      "namespace": NAMESPACE}}],
            "current-context": "test",
        }  # fmt: skip
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        monkeypatch.setenv("KUBECONFIG", str(path))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.delenv("REDIS_URL", raising=False)
        yield fake


def _annotations(service: dict[str, Any]) -> dict[str, str]:
    annotations: dict[str, str] = service["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_scale_patches_the_autoscaling_annotations_as_kn_would(
    api: FakeKubeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "scale", "--warm", "8", "--max", "60"]) == 0
    assert api.patches == [
        (
            "application/merge-patch+json",
            {"spec": {"template": {"metadata": {"annotations": {
                "autoscaling.knative.dev/min-scale": "8",
                "autoscaling.knative.dev/max-scale": "60",
            }}}}},
        )
    ]  # fmt: skip
    assert crd_errors(api.service) == []
    # The rest of the template is untouched (scrape annotations, scale-down delay).
    assert _annotations(api.service)["autoscaling.knative.dev/scale-down-delay"] == "120s"
    assert _annotations(api.service)["prometheus.io/scrape"] == "true"
    out = capsys.readouterr().out
    assert "changed: min-scale 4, max-scale 50 -> min-scale 8, max-scale 60" in out
    assert "kn service update voicefleet-runner -n calls --scale-min 8 --scale-max 60" in out


def test_scale_refuses_a_pool_above_the_ceiling_and_sends_nothing(
    api: FakeKubeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "scale", "--warm", "80"]) == 2
    assert api.patches == []
    assert "above max-scale 50" in capsys.readouterr().out


def test_scale_to_the_current_pool_changes_nothing(
    api: FakeKubeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "scale", "--warm", "4"]) == 0
    assert api.patches == []
    assert "unchanged: min-scale 4, max-scale 50" in capsys.readouterr().out


def test_drain_takes_the_warm_pool_to_zero_and_says_calls_finish(
    api: FakeKubeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "drain"]) == 0
    assert api.patches == [
        ("application/merge-patch+json",
         {"spec": {"template": {"metadata": {"annotations": {
             "autoscaling.knative.dev/min-scale": "0"}}}}}),
    ]  # fmt: skip
    assert crd_errors(api.service) == []
    out = capsys.readouterr().out
    assert "min-scale 4, max-scale 50 -> min-scale 0, max-scale 50" in out
    assert "kn service update voicefleet-runner -n calls --scale-min 0" in out
    assert "finishes its call" in out


def test_status_shows_revisions_pods_autoscaling_and_headroom(
    api: FakeKubeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fleet", "status"]) == 0
    out = capsys.readouterr().out
    assert "voicefleet-runner in calls: ready" in out
    assert f"min-scale 4, max-scale 50, target utilization 70%, containerConcurrency {SLOTS}" in out
    assert "2 with a free slot, 1 full, 1 starting, 1 draining" in out
    # a: one call in its slots, b: none; the full, starting and draining pods take no launch
    assert f"warm headroom: {2 * SLOTS - 1} launch(es)" in out
    assert "voicefleet-runner-00002: 100% of launches, 4 pod(s)" in out
    assert "voicefleet-runner-00001: 0% of launches, 1 pod(s)" in out
    assert "kn service describe voicefleet-runner -n calls" in out
    assert api.patches == []


def test_the_schedule_applies_the_rule_in_force(
    api: FakeKubeAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    api.schedule["data"]["schedule"] = "* * * * *  6 40   # always in force\n"
    assert main(["fleet", "scale", "--schedule", "voicefleet-warm-pool-schedule"]) == 0
    (patch,) = api.patches
    assert _annotations(api.service)["autoscaling.knative.dev/min-scale"] == "6"
    assert patch[1]["spec"]["template"]["metadata"]["annotations"] == {
        "autoscaling.knative.dev/min-scale": "6",
        "autoscaling.knative.dev/max-scale": "40",
    }
    assert crd_errors(api.service) == []
    assert "line 1 (* * * * *) is in force" in capsys.readouterr().out
    # A second run finds the pool as scheduled and sends nothing.
    assert main(["fleet", "scale", "--schedule", "voicefleet-warm-pool-schedule"]) == 0
    assert len(api.patches) == 1


def test_the_cronjob_runs_the_same_command_on_the_shipped_schedule() -> None:
    cron_job = _production("CronJob", "voicefleet-warm-pool")
    (container,) = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "voicefleet", "fleet", "scale", "--schedule", "voicefleet-warm-pool-schedule",
    ]  # fmt: skip
    assert container["image"].startswith("registry.example.com/voicefleet")
    assert cron_job["spec"]["concurrencyPolicy"] == "Forbid"
    role = _production("Role", "voicefleet-warm-pool")
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"get", "patch"}
    schedule = _production("ConfigMap", "voicefleet-warm-pool-schedule")["data"]
    rules = parse(schedule["schedule"])
    berlin = schedule["timezone"]
    at = [  # (UTC time, warm pool in force): Berlin is UTC+1 in January
        (datetime(2026, 1, 5, 6, 45, tzinfo=UTC), 20),  # Monday 07:45: warmed for the peak
        (datetime(2026, 1, 5, 11, 30, tzinfo=UTC), 12),  # 12:30
        (datetime(2026, 1, 5, 20, 0, tzinfo=UTC), 4),  # 21:00
        (datetime(2026, 1, 10, 9, 0, tzinfo=UTC), 2),  # Saturday
        (datetime(2026, 1, 12, 5, 0, tzinfo=UTC), 2),  # Monday 06:00: still the weekend's
        (datetime(2026, 1, 12, 6, 30, tzinfo=UTC), 20),  # Monday 07:30 exactly
    ]
    assert [in_force(rules, now, berlin).warm for now, _ in at] == [warm for _, warm in at]


@pytest.mark.parametrize(
    "table",
    ["", "# only a comment", "0 7 * * 1-5", "0 7 * * 1-5 many", "61 7 * * * 3", "0 7 * * * 9 4"],
)
def test_bad_schedules_are_refused(table: str) -> None:
    with pytest.raises(ScheduleError):
        parse(table)


def test_status_counts_the_sessions_in_redis(
    api: FakeKubeAPI, redis_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import asyncio
    import time
    import uuid

    from voicefleet.contracts import SessionRecord, SessionStatus, TransportKind
    from voicefleet.redis_conn import connect
    from voicefleet.session_store import SessionStore

    async def seed() -> None:
        redis = connect(redis_url)
        await redis.flushdb()
        store = SessionStore(redis)
        for tenant in ("acme", "globex"):
            now = time.time()
            await store.create(
                SessionRecord(session_id=uuid.uuid4().hex, tenant=tenant,
                              status=SessionStatus.QUEUED, transport=TransportKind.WEBRTC,
                              created_at=now, updated_at=now)
            )  # fmt: skip
        await redis.aclose()

    asyncio.run(seed())
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["fleet", "status"]) == 0
    out = capsys.readouterr().out
    assert "sessions in Redis (not ended): 2 queued" in out
    assert "queued webrtc tenant globex, runner -" in out and "tenant acme" in out
