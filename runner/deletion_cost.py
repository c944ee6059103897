"""Keeps this pod's `controller.kubernetes.io/pod-deletion-cost` equal to its live calls.

When Knative scales the runner down, the ReplicaSet controller picks the pods to delete: pods
that are not ready first, then the lowest deletion cost, then the newest. A runner at cost 0
(idle) therefore goes before one holding a call, and one holding one call before one holding
three, so a scale-down frees the pods it can free now instead of draining busy ones (a deleted
pod still finishes its calls: SIGTERM drains, within `timeoutSeconds`). That holds because a
runner stays ready while its slots are full (runner/pod.py): a not-ready pod would be deleted
before any idle one, whatever its cost.

The pod calls `set_live_calls(n)` whenever its number of calls changes; that never blocks and
never fails a call. A background task writes the latest count with a JSON merge patch of the
pod's own annotation (RBAC: `knative/base/runner-rbac.yaml` allows `patch` on pods and nothing
else), coalescing changes that arrive while a write is in flight, and retrying with backoff
while the API server refuses or is unreachable. Outside a cluster (no
`KUBERNETES_SERVICE_HOST`: the dev stack, tests) it does nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api

ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
MERGE_PATCH = "application/merge-patch+json"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 30.0


class DeletionCost:
    """Writes one pod's deletion cost: the latest value given, at most one write at a time.

    `connect` makes the API client; it runs in the writer's thread on the first write, so the
    `kubernetes` package is imported off the event loop and off a pod's start.
    """

    def __init__(self, connect: Callable[[], CoreV1Api], namespace: str, pod: str) -> None:
        self.connect = connect
        self.api: CoreV1Api | None = None
        self.namespace = namespace
        self.pod = pod
        self.written: int | None = None
        self._wanted: int | None = None
        self._changed = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._retry_s = _RETRY_FIRST_S

    def set_live_calls(self, calls: int) -> None:
        """Record the pod's live calls; the write happens in the background."""
        self._wanted = max(0, int(calls))
        self._changed.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_latest())

    async def settled(self) -> None:
        """Wait until the latest value is written (tests; a graceful shutdown)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_latest(self) -> None:
        while self._changed.is_set():
            self._changed.clear()
            wanted = self._wanted
            if wanted is None or wanted == self.written:
                continue
            failure = await asyncio.to_thread(self._patch, wanted)
            if failure is not None:
                logger.warning(
                    "pod deletion cost {} not written for pod {} ({}); retrying in {:.1f} s",
                    wanted,
                    self.pod,
                    failure,
                    self._retry_s,
                )
                self._changed.set()
                await asyncio.sleep(self._retry_s)
                self._retry_s = min(self._retry_s * 2, _RETRY_MAX_S)
                continue
            self.written = wanted
            self._retry_s = _RETRY_FIRST_S

    def _patch(self, calls: int) -> str | None:
        """One merge patch of the annotation (in a thread); what went wrong, or None."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config import ConfigException
        from urllib3.exceptions import HTTPError

        body: dict[str, Any] = {"metadata": {"annotations": {ANNOTATION: str(calls)}}}
        try:
            if self.api is None:
                self.api = self.connect()
            self.api.patch_namespaced_pod(self.pod, self.namespace, body, _content_type=MERGE_PATCH)
        except ApiException as exc:  # refused: RBAC, a missing pod, an API server in trouble
            return f"HTTP {exc.status}"
        except (ConfigException, HTTPError, OSError) as exc:  # no token mounted, unreachable
            return type(exc).__name__
        return None


def in_cluster(
    env: Mapping[str, str] | None = None, service_account: Path = SERVICE_ACCOUNT_DIR
) -> DeletionCost | None:
    """The updater for the pod this process runs in, or None outside a cluster.

    The pod's name is its hostname (Kubernetes sets it; Knative does not change it) and its
    namespace is the service account's, so the manifest needs no downward-API fields (which
    Knative allows only behind a feature flag).
    """
    env = dict(os.environ if env is None else env)
    if not env.get("KUBERNETES_SERVICE_HOST"):
        return None

    def connect() -> CoreV1Api:
        from kubernetes import client
        from kubernetes.config.incluster_config import InClusterConfigLoader

        configuration = client.Configuration()
        loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
            token_filename=str(service_account / "token"),
            cert_filename=str(service_account / "ca.crt"),
            environ=env,
        )
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        return client.CoreV1Api(client.ApiClient(configuration))

    namespace = (service_account / "namespace").read_text(encoding="utf-8").strip()
    pod = env.get("HOSTNAME") or os.uname().nodename
    return DeletionCost(connect, namespace, pod)


_updater: DeletionCost | None = None
_looked = False


def set_live_calls(calls: int) -> None:
    """The pod's hook: call it with the number of live calls whenever that changes."""
    global _updater, _looked
    if not _looked:
        _looked = True
        try:
            _updater = in_cluster()
        except OSError as exc:  # no service account mounted: run without it
            logger.warning("pod deletion cost disabled: {}", exc)
    if _updater is not None:
        _updater.set_live_calls(calls)
