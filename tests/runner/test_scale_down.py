"""Which runner pods a scale-down deletes, at the Kubernetes API's HTTP boundary.

Runner pods report two things Kubernetes reads: readiness (`/readyz`, which the kubelet turns
into the pod's `Ready` condition) and the `controller.kubernetes.io/pod-deletion-cost` they
keep at their live calls (runner/deletion_cost.py, through the real `kubernetes` client).
Real `RunnerPod`s take launches through their own slot accounting; a small HTTP server stands
in for the API server (it holds the pods, applies the merge patches and lists them); and the
ReplicaSet controller's documented rule ranks what the client lists.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kubernetes import client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.kustomize import merge_patch
from runner import deletion_cost
from runner.deletion_cost import ANNOTATION, DeletionCost
from runner.pod import Refused, RunnerPod, create_pod_app
from runner.settings import RunnerSettings
from tests.support.threaded import serving_in_thread

NAMESPACE = "calls"
START = datetime(2026, 1, 1, tzinfo=UTC)


def replicaset_deletion_order(pods: list[client.V1Pod]) -> list[str]:
    """The pods a ReplicaSet scale-down deletes, first to last: Kubernetes' rule.

    It is the order of `ActivePodsWithRanks` (kubernetes/pkg/controller/controller_utils.go;
    the `controller.kubernetes.io/pod-deletion-cost` annotation's documentation, and KEP-2255),
    rule by rule until one differs:
    1. a pod not assigned to a node before one that is;
    2. Pending before Unknown before Running;
    3. not ready before ready;
    4. the lower deletion cost first (no annotation: 0);
    5. the greater rank first (the ReplicaSet ranks a pod by its pods on the same node);
    6. of two ready pods, the one ready for a shorter time first;
    7. the pod with more container restarts first;
    8. the newer pod first.
    (With `LogarithmicScaleDown` rules 6 and 8 compare timestamps in powers-of-two buckets;
    the pods here are far enough apart in time that it makes no difference.)
    """
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}
    on_node: dict[str, int] = {}
    for pod in pods:
        if pod.spec.node_name:
            on_node[pod.spec.node_name] = on_node.get(pod.spec.node_name, 0) + 1

    def ready_since(pod: client.V1Pod) -> datetime | None:
        for condition in pod.status.conditions or []:
            if condition.type == "Ready" and condition.status == "True":
                since: datetime = condition.last_transition_time
                return since
        return None

    def key(pod: client.V1Pod) -> tuple[Any, ...]:
        since = ready_since(pod)
        annotations = pod.metadata.annotations or {}
        restarts = max((s.restart_count for s in pod.status.container_statuses or []), default=0)
        return (
            bool(pod.spec.node_name),
            phase.get(pod.status.phase, 2),
            since is not None,
            int(annotations.get(ANNOTATION, "0")),
            -on_node.get(pod.spec.node_name or "", 0),
            -since.timestamp() if since is not None else 0.0,
            -restarts,
            -pod.metadata.creation_timestamp.timestamp(),
        )

    return [pod.metadata.name for pod in sorted(pods, key=key)]


@dataclass
class FakeKubeAPI:
    """The pods of the runner's ReplicaSet, as the API server holds them."""

    pods: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, name: str, created: datetime) -> None:
        container = {
            "name": "runner",
            "image": "voicefleet",
            "imageID": "",
            "ready": False,
            "started": True,
            "restartCount": 0,
        }
        self.pods[name] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "annotations": {},
                "creationTimestamp": created.isoformat(),
            },
            "spec": {"nodeName": f"node-{name}", "containers": [{"name": "runner"}]},
            "status": {"phase": "Running", "conditions": [], "containerStatuses": [container]},
        }

    def probed(self, name: str, ready: bool, at: datetime) -> None:
        """The kubelet's readiness probe result, written to the pod's status."""
        status = self.pods[name]["status"]
        status["containerStatuses"][0]["ready"] = ready
        status["conditions"] = [
            {"type": "Ready", "status": str(ready), "lastTransitionTime": at.isoformat()}
        ]

    def app(self) -> Starlette:
        async def patch_pod(request: Request) -> Response:
            pod = self.pods.get(request.path_params["name"])
            if request.path_params["ns"] != NAMESPACE or pod is None:
                return JSONResponse({"kind": "Status", "code": 404}, 404)
            merge_patch(pod, json.loads(await request.body()))
            return JSONResponse(pod)

        async def list_pods(request: Request) -> Response:
            items = list(self.pods.values())
            return JSONResponse({"apiVersion": "v1", "kind": "PodList", "items": items})

        return Starlette(
            routes=[
                Route("/api/v1/namespaces/{ns}/pods/{name}", patch_pod, methods=["PATCH"]),
                Route("/api/v1/namespaces/{ns}/pods", list_pods, methods=["GET"]),
            ]
        )


@pytest.fixture
def kube() -> Iterator[tuple[FakeKubeAPI, client.CoreV1Api]]:
    api = FakeKubeAPI()
    with serving_in_thread(api.app()) as url:
        configuration = client.Configuration()
        configuration.host = url
        yield api, client.CoreV1Api(client.ApiClient(configuration))


@dataclass
class Runner:
    name: str
    pod: RunnerPod
    cost: DeletionCost


class Fleet:
    """Runner pods of K slots each, with their deletion costs and readiness on the API."""

    def __init__(self, api: FakeKubeAPI, core: client.CoreV1Api, slots: int, redis_url: str):
        self.api, self.core, self.slots, self.redis_url = api, core, slots, redis_url
        self.runners: dict[str, Runner] = {}

    def start(self, name: str, *, loaded: bool = True) -> Runner:
        """A pod created (and, if `loaded`, ready) an hour after the one before it."""
        created = START + timedelta(hours=len(self.runners))
        self.api.add(name, created)
        env = {"RUNNER_SLOTS": str(self.slots), "RUNNER_ID": name, "REDIS_URL": self.redis_url}
        pod = RunnerPod(RunnerSettings(**env))
        if loaded:  # every slot's process printed its ready line (what `RunnerPod._keep` sees)
            for slot in pod.slots:
                slot.ready.set()
            pod.preloaded = True
        runner = Runner(name, pod, DeletionCost(lambda: self.core, NAMESPACE, name))
        self.runners[name] = runner
        return runner

    async def launch(self, name: str, calls: int) -> None:
        """`calls` launches into the runner's slots, through the pod's own accounting; its
        deletion cost follows (the pod's hook, runner/deletion_cost.py)."""
        runner = self.runners[name]
        deletion_cost._looked, deletion_cost._updater = True, runner.cost
        for _ in range(calls):
            await runner.pod._acquire(uuid.uuid4().hex)
        await runner.cost.settled()

    async def end_calls(self, name: str) -> None:
        """Every call of the runner ends: its slots are free again."""
        runner = self.runners[name]
        deletion_cost._looked, deletion_cost._updater = True, runner.cost
        for index, slot in enumerate(runner.pod.slots):
            if slot.session is not None:
                await runner.pod._release(index, slot.session)
        await runner.cost.settled()

    async def probe(self) -> None:
        """The kubelet probes each pod's /readyz and writes the result to its status."""
        for index, runner in enumerate(self.runners.values()):
            transport = httpx.ASGITransport(app=create_pod_app(runner.pod))
            async with httpx.AsyncClient(transport=transport, base_url="http://pod") as http:
                answer = await http.get("/readyz")
            at = START + timedelta(hours=index, minutes=5)
            self.api.probed(runner.name, answer.status_code == 200, at)

    def deletion_order(self) -> list[str]:
        return replicaset_deletion_order(self.core.list_namespaced_pod(NAMESPACE).items)

    async def close(self) -> None:
        for runner in self.runners.values():
            await runner.cost.close()
            await runner.pod.close()


@asynccontextmanager
async def fleet(
    kube: tuple[FakeKubeAPI, client.CoreV1Api], slots: int, redis_url: str
) -> AsyncIterator[Fleet]:
    pods = Fleet(*kube, slots, redis_url)
    try:
        yield pods
    finally:
        await pods.close()
        deletion_cost._looked, deletion_cost._updater = False, None


async def test_one_call_pods_a_scale_down_deletes_idle_runners_before_busy_ones(
    kube: tuple[FakeKubeAPI, client.CoreV1Api], redis_url: str
) -> None:
    """K = 1 (the base and dev overlays): every busy pod is full."""
    async with fleet(kube, 1, redis_url) as pods:
        for name in ("busy-old", "idle-old", "busy-new", "idle-new"):
            pods.start(name)
        pods.start("loading", loaded=False)  # a cold start still loading its models
        await pods.launch("busy-old", 1)
        await pods.launch("busy-new", 1)
        with pytest.raises(Refused) as refused:  # full: a launch past K is refused, retryable
            await pods.launch("busy-new", 1)
        assert (refused.value.status, refused.value.retry_after) == (503, True)
        await pods.probe()

        listed = {p.metadata.name: p for p in kube[1].list_namespaced_pod(NAMESPACE).items}
        assert {n: (p.metadata.annotations or {}).get(ANNOTATION) for n, p in listed.items()} == {
            "busy-old": "1",
            "idle-old": None,
            "busy-new": "1",
            "idle-new": None,
            "loading": None,
        }
        ready = {n: p.status.conditions[0].status for n, p in listed.items()}
        assert ready == {
            "busy-old": "True",
            "idle-old": "True",
            "busy-new": "True",
            "idle-new": "True",
            "loading": "False",
        }

        # The pod still loading goes first (not ready), then the idle ones (cost 0; the one
        # ready for less time first), and the busy ones last.
        order = pods.deletion_order()
        assert order == ["loading", "idle-new", "idle-old", "busy-new", "busy-old"]

        # Scaling from 5 to 3 stops no call; only from 3 down does a busy pod get SIGTERM.
        assert set(order[:2]).isdisjoint({"busy-old", "busy-new"})

        # The same rule with a full pod reported not ready (the readiness this replaced) puts
        # the busy pods before every idle one.
        for name in ("busy-old", "busy-new"):
            kube[0].probed(name, False, START)
        assert pods.deletion_order() == ["loading", "busy-new", "busy-old", "idle-new", "idle-old"]


async def test_pods_of_four_calls_go_in_order_of_their_calls(
    kube: tuple[FakeKubeAPI, client.CoreV1Api], redis_url: str
) -> None:
    """K = 4 (the production overlay): the fewer calls a pod holds, the sooner it goes."""
    async with fleet(kube, 4, redis_url) as pods:
        calls = {"full": 4, "one": 1, "idle": 0, "three": 3}
        for name, held in calls.items():
            pods.start(name)
            await pods.launch(name, held)
        await pods.probe()
        assert all(
            p.status.conditions[0].status == "True"
            for p in kube[1].list_namespaced_pod(NAMESPACE).items
        )
        assert pods.deletion_order() == ["idle", "one", "three", "full"]
        # Its calls ending lower a pod's cost: the one that was full, now idle, goes with the
        # other idle one (ready for longer, so after it), before any pod holding a call.
        await pods.end_calls("full")
        assert pods.deletion_order() == ["idle", "full", "one", "three"]
