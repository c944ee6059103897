"""The runner Knative Service as the Kubernetes API shows it, and changes to its warm pool.

Through the `kubernetes` package's CustomObjectsApi (Knative Services and Revisions are custom
resources) and CoreV1Api (their pods). Scaling is a JSON merge patch of the revision template's
autoscaling annotations, exactly what `kn service update --scale-min/--scale-max` sends: Knative
makes a new Revision, routes launches to it, and the old Revision's pods drain their calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from runner.deletion_cost import ANNOTATION as DELETION_COST

if TYPE_CHECKING:
    from kubernetes.client import CoreV1Api, CustomObjectsApi

GROUP, VERSION = "serving.knative.dev", "v1"
ANNOTATION = "autoscaling.knative.dev/"
SERVICE_LABEL = "serving.knative.dev/service"
MERGE_PATCH = "application/merge-patch+json"
# Knative's defaults when the annotations are absent.
DEFAULT_TARGET_UTILIZATION = 70
UNBOUNDED = 0


class FleetError(Exception):
    """A change Knative would refuse (or that makes no sense), said before it is sent."""


@dataclass(frozen=True)
class Scaling:
    min_scale: int
    max_scale: int  # 0: no upper bound
    target_utilization: int
    container_concurrency: int

    @classmethod
    def of(cls, service: dict[str, Any]) -> Scaling:
        template = service.get("spec", {}).get("template", {})
        annotations = template.get("metadata", {}).get("annotations") or {}

        def number(key: str, default: int) -> int:
            value = annotations.get(ANNOTATION + key)
            return int(value) if value is not None else default

        return cls(
            min_scale=number("min-scale", 0),
            max_scale=number("max-scale", UNBOUNDED),
            target_utilization=number("target-utilization-percentage", DEFAULT_TARGET_UTILIZATION),
            container_concurrency=int(template.get("spec", {}).get("containerConcurrency", 0)),
        )


@dataclass
class Pods:
    ready: int = 0  # ready with a slot free: Knative's activator may route a launch here
    busy: int = 0  # ready, every slot in a call (a runner stays ready while full)
    starting: int = 0  # not yet started (a cold start in progress)
    draining: int = 0  # terminating: finishing its calls, taking no new one
    free_slots: int = 0  # over the ready pods: containerConcurrency less their live calls


@dataclass
class Revision:
    name: str
    traffic_percent: int
    ready: bool
    actual_replicas: int | None
    desired_replicas: int | None


@dataclass
class FleetStatus:
    service: str
    namespace: str
    scaling: Scaling
    revisions: list[Revision]
    pods: Pods
    ready: bool
    sessions: dict[str, int] = field(default_factory=dict)  # by status, from Redis

    @property
    def headroom(self) -> int:
        """Launches the warm pods can take now, beyond the calls in flight."""
        return self.pods.free_slots


@dataclass(frozen=True)
class Change:
    """One patch sent: the annotations before and after, and the `kn` command that is the same."""

    before: Scaling
    after: Scaling
    patch: dict[str, Any]
    kn: str

    @property
    def changed(self) -> bool:
        return bool(self.patch)


def _pod_state(pod: Any) -> str:
    if pod.metadata.deletion_timestamp is not None:
        return "draining"
    statuses = [s for s in (pod.status.container_statuses or []) if s.name != "queue-proxy"]
    if pod.status.phase != "Running" or not statuses:
        return "starting"
    # A runner is ready once it has loaded, full or not (runner/pod.py): not ready is loading.
    return "ready" if all(s.started and s.ready for s in statuses) else "starting"


def _live_calls(pod: Any) -> int:
    """The runner keeps its pod's deletion cost at its live calls (runner/deletion_cost.py)."""
    value = (pod.metadata.annotations or {}).get(DELETION_COST, "0")
    try:
        return max(0, int(value))
    except ValueError:
        return 0


class RunnerFleet:
    def __init__(
        self,
        custom: CustomObjectsApi,
        core: CoreV1Api,
        *,
        namespace: str,
        service: str = "voicefleet-runner",
    ) -> None:
        self._custom = custom
        self._core = core
        self.namespace = namespace
        self.service = service

    def get_service(self) -> dict[str, Any]:
        found = self._custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "services", self.service
        )
        return cast(dict[str, Any], found)

    def status(self) -> FleetStatus:
        service = self.get_service()
        traffic = {
            t.get("revisionName"): int(t.get("percent", 0))
            for t in service.get("status", {}).get("traffic", [])
        }
        listed = cast(
            dict[str, Any],
            self._custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "revisions", label_selector=self._selector()
            ),
        )
        revisions = [
            Revision(
                name=item["metadata"]["name"],
                traffic_percent=traffic.get(item["metadata"]["name"], 0),
                ready=_condition(item, "Ready"),
                actual_replicas=item.get("status", {}).get("actualReplicas"),
                desired_replicas=item.get("status", {}).get("desiredReplicas"),
            )
            for item in listed.get("items", [])
        ]
        scaling = Scaling.of(service)
        slots = max(1, scaling.container_concurrency)
        pods = Pods()
        for pod in self._core.list_namespaced_pod(
            self.namespace, label_selector=self._selector()
        ).items:
            state = _pod_state(pod)
            if state == "ready":
                free = max(0, slots - _live_calls(pod))
                pods.free_slots += free
                state = "ready" if free else "busy"
            setattr(pods, state, getattr(pods, state) + 1)
        return FleetStatus(
            service=self.service,
            namespace=self.namespace,
            scaling=scaling,
            revisions=sorted(revisions, key=lambda r: r.name),
            pods=pods,
            ready=_condition(service, "Ready"),
        )

    def scale(self, warm: int, max_scale: int | None = None) -> Change:
        """Set the warm pool (min-scale), and the ceiling (max-scale) if given."""
        if warm < 0 or (max_scale is not None and max_scale < 0):
            raise FleetError("scales cannot be negative")
        before = Scaling.of(self.get_service())
        ceiling = before.max_scale if max_scale is None else max_scale
        if ceiling != UNBOUNDED and warm > ceiling:
            raise FleetError(
                f"a warm pool of {warm} is above max-scale {ceiling}: pass --max {warm} or more"
            )
        annotations: dict[str, str] = {}
        if warm != before.min_scale:
            annotations[ANNOTATION + "min-scale"] = str(warm)
        if max_scale is not None and max_scale != before.max_scale:
            annotations[ANNOTATION + "max-scale"] = str(max_scale)
        patch = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
        if annotations:
            self._custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                "services",
                self.service,
                patch,
                _content_type=MERGE_PATCH,
            )
        after = Scaling.of(self.get_service()) if annotations else before
        kn = f"kn service update {self.service} -n {self.namespace} --scale-min {warm}"
        if max_scale is not None:
            kn += f" --scale-max {max_scale}"
        return Change(before=before, after=after, patch=patch if annotations else {}, kn=kn)

    def drain(self) -> Change:
        """No warm pool: idle runners go, busy ones finish their calls first (each pod gets
        SIGTERM, refuses new launches and keeps its session up to timeoutSeconds)."""
        return self.scale(0)

    def _selector(self) -> str:
        return f"{SERVICE_LABEL}={self.service}"


def _condition(resource: dict[str, Any], kind: str) -> bool:
    for condition in resource.get("status", {}).get("conditions", []):
        if condition.get("type") == kind:
            return bool(condition.get("status") == "True")
    return False
