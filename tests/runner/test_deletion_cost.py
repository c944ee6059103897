"""The runner's pod deletion cost, at the Kubernetes API's HTTP boundary.

No API server runs here, so a small HTTP server stands in for one: it holds a runner pod,
authorizes each request the way RBAC would with the Role and RoleBinding the base ships
(`knative/base/runner-rbac.yaml`, for the ServiceAccount the runner Service runs as), applies
JSON merge patches, and records them. The real `kubernetes` client sends the requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.kustomize import build, merge_patch
from devstack.manifests import RUNNER_SERVICE, default_knative_dir
from runner import deletion_cost
from runner.deletion_cost import ANNOTATION, DeletionCost, in_cluster
from tests.support.schemas import errors
from tests.support.threaded import serving_in_thread

NAMESPACE = "calls"
POD = "voicefleet-runner-00001-deployment-5d8f7-abcde"
TOKEN = "runner-sa-token"
BASE = [doc for _, doc in build(default_knative_dir())]


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in BASE if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _runner_account() -> str:
    account: str = _one("Service", RUNNER_SERVICE)["spec"]["template"]["spec"]["serviceAccountName"]
    return account


def _allowed(verb: str, resource: str) -> bool:
    """RBAC for the runner's ServiceAccount: the rules of every Role bound to it."""
    account = _runner_account()
    roles = [
        binding["roleRef"]["name"]
        for binding in BASE
        if binding["kind"] == "RoleBinding"
        and {"kind": "ServiceAccount", "name": account} in binding["subjects"]
    ]
    return any(
        "" in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for role in roles
        for rule in _one("Role", role)["rules"]
    )


@dataclass
class FakeKubeAPI:
    pod: dict[str, Any] = field(
        default_factory=lambda: {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": POD, "namespace": NAMESPACE, "annotations": {}},
        }
    )
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse: int = 0  # answer this many requests with 503 first
    tokens: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def patch_pod(request: Request) -> Response:
            self.tokens.append(request.headers.get("authorization", ""))
            if not _allowed("patch", "pods"):
                return JSONResponse({"kind": "Status", "code": 403}, 403)
            if self.refuse > 0:
                self.refuse -= 1
                return JSONResponse({"kind": "Status", "code": 503}, 503)
            name, namespace = request.path_params["name"], request.path_params["ns"]
            if (namespace, name) != (NAMESPACE, POD):
                return JSONResponse({"kind": "Status", "code": 404}, 404)
            body = json.loads(await request.body())
            self.patches.append((request.headers["content-type"], body))
            merge_patch(self.pod, body)
            return JSONResponse(self.pod)

        return Starlette(
            routes=[Route("/api/v1/namespaces/{ns}/pods/{name}", patch_pod, methods=["PATCH"])]
        )

    @property
    def cost(self) -> str | None:
        value: str | None = self.pod["metadata"]["annotations"].get(ANNOTATION)
        return value


@pytest.fixture
def kube() -> Iterator[tuple[FakeKubeAPI, str]]:
    api = FakeKubeAPI()
    with serving_in_thread(api.app()) as url:
        yield api, url


def _updater(url: str) -> DeletionCost:
    configuration = client.Configuration()
    configuration.host = url
    return DeletionCost(lambda: client.CoreV1Api(client.ApiClient(configuration)), NAMESPACE, POD)


def test_the_runner_may_patch_pods_and_nothing_else() -> None:
    service_account = _one("ServiceAccount", _runner_account())
    role = _one("Role", "voicefleet-runner")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]
    for doc in (service_account, role, _one("RoleBinding", "voicefleet-runner")):
        assert errors(doc) == []
    assert _allowed("patch", "pods") and not _allowed("delete", "pods")


async def test_the_cost_follows_the_live_calls(kube: tuple[FakeKubeAPI, str]) -> None:
    api, url = kube
    updater = _updater(url)
    updater.set_live_calls(1)
    await updater.settled()
    assert api.cost == "1"
    # Changes that arrive while a write is in flight end at the latest value.
    for calls in (2, 3, 2, 0):
        updater.set_live_calls(calls)
    await updater.settled()
    assert api.cost == "0"
    assert {content_type for content_type, _ in api.patches} == {"application/merge-patch+json"}
    # Each patch touches the one annotation and nothing else of the pod.
    values = [body["metadata"]["annotations"][ANNOTATION] for _, body in api.patches]
    assert [body for _, body in api.patches] == [
        {"metadata": {"annotations": {ANNOTATION: value}}} for value in values
    ]
    assert 2 <= len(api.patches) <= 5
    # An unchanged count is not written again.
    written = len(api.patches)
    updater.set_live_calls(0)
    await updater.settled()
    assert len(api.patches) == written
    await updater.close()


async def test_a_refusing_api_server_delays_the_cost_but_never_a_call(
    kube: tuple[FakeKubeAPI, str],
) -> None:
    api, url = kube
    api.refuse = 2
    updater = _updater(url)
    updater.set_live_calls(2)  # returns at once; the writes retry in the background
    assert api.cost is None
    await asyncio.wait_for(updater.settled(), 30)
    assert api.cost == "2" and len(api.tokens) == 3
    await updater.close()


async def test_in_a_pod_it_uses_the_service_account(
    kube: tuple[FakeKubeAPI, str], tmp_path: Path
) -> None:
    api, url = kube
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "namespace").write_text(NAMESPACE + "\n")
    host, port = url.removeprefix("http://").split(":")
    env = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port, "HOSTNAME": POD}
    updater = in_cluster(env, tmp_path)
    assert updater is not None
    assert (updater.namespace, updater.pod) == (NAMESPACE, POD)
    updater.api = updater.connect()
    configuration = updater.api.api_client.configuration
    assert configuration.host == f"https://{host}:{port}"
    assert configuration.ssl_ca_cert == str(tmp_path / "ca.crt")
    # The stand-in speaks plain HTTP: point the client at it (the token refresh hook would
    # put the https address back before each request).
    configuration.refresh_api_key_hook = None
    configuration.host = url
    updater.set_live_calls(1)
    await updater.settled()
    assert api.cost == "1" and api.tokens == [f"bearer {TOKEN}"]
    await updater.close()


def test_outside_a_cluster_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert in_cluster() is None
    monkeypatch.setattr(deletion_cost, "_looked", False)
    deletion_cost.set_live_calls(3)  # no loop, no cluster: returns without a write
    assert deletion_cost._updater is None
