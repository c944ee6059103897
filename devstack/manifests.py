"""Typed view of the Knative manifests under ``knative/``, for the local dev stack.

The dev stack does not keep its own copy of scaling and routing settings: it builds the same
kustomization that ``kubectl apply -k`` ships (the base ``knative/base/``, or an overlay of it), so
a change to a Trigger or to the runner's scaling is exercised locally before it reaches a cluster.
Only the fields the dev stack acts on are modelled; anything it cannot reproduce faithfully
(e.g. ``spec.filters``) is rejected rather than ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from kubernetes.utils.quantity import parse_quantity
from pydantic import BaseModel, ConfigDict

from devstack.kustomize import KustomizeError, build_checked

__all__ = [
    "ADMIN_SERVICE",
    "CONFIG_MAP",
    "GATEWAY_SERVICE",
    "RECORDS_SERVICE",
    "RUNNER_SERVICE",
    "ManifestError",
    "RunnerScaling",
    "TriggerSpec",
    "default_knative_dir",
    "knative_root",
    "load_config_env",
    "load_documents",
    "load_runner_scaling",
    "load_triggers",
    "overlay_dir",
    "parse_go_duration",
    "parse_iso8601_duration",
]

RUNNER_SERVICE = "voicefleet-runner"
CONFIG_MAP = "voicefleet-config"
GATEWAY_SERVICE = "voicefleet-gateway"
ADMIN_SERVICE = "voicefleet-admin"
RECORDS_SERVICE = "voicefleet-records"

_SERVING_V1 = "serving.knative.dev/v1"
_EVENTING_V1 = "eventing.knative.dev/v1"
_ANNOTATION = "autoscaling.knative.dev/"

Document = dict[str, Any]


class ManifestError(ValueError):
    """A manifest is missing a field the dev stack needs, or holds a value it cannot use."""

    def __init__(self, file: Path, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.file = file
        self.field = field


class RunnerScaling(BaseModel):
    """How Knative scales the runner Service (its warm pool and per-pod limits)."""

    model_config = ConfigDict(frozen=True)

    min_scale: int
    max_scale: int
    scale_down_delay_s: float
    container_concurrency: int
    timeout_s: int
    # CPUs the runner container requests (`resources.requests.cpu`); a node fits only as many
    # runners as its cores cover, and so does the dev pool on one host.
    cpu_request: float | None = None


class TriggerSpec(BaseModel):
    """One Trigger: which events it takes and how the broker delivers them."""

    model_config = ConfigDict(frozen=True)

    name: str
    broker: str
    filter_attributes: dict[str, str]
    subscriber_service: str
    subscriber_uri_path: str = ""
    retry: int = 0
    backoff_policy: Literal["linear", "exponential"] = "exponential"
    backoff_delay_s: float = 0.0
    timeout_s: float | None = None
    dead_letter_service: str | None = None
    dead_letter_uri_path: str = ""


def knative_root() -> Path:
    """The repository's ``knative/`` folder: ``base/``, ``overlays/`` and ``observability/``."""
    return Path(__file__).resolve().parents[1] / "knative"


def default_knative_dir() -> Path:
    """The kustomize base, ``knative/base/``: what the dev stack runs without an overlay."""
    return knative_root() / "base"


_ISO_RE = re.compile(
    r"P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_ISO_SECONDS = {
    "weeks": 604800.0,
    "days": 86400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
}
_GO_PART_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_iso8601_duration(text: str) -> float:
    """Seconds in an ISO-8601 duration as Knative's delivery spec uses them (``PT0.2S``, ``PT65M``).

    Years and months are refused: they have no fixed length, and no delivery setting needs them.
    """
    match = _ISO_RE.fullmatch(text.strip().upper())
    if match is None:
        raise ValueError(f"not an ISO-8601 duration such as PT0.2S or PT1H: {text!r}")
    return sum(float(v) * _ISO_SECONDS[k] for k, v in match.groupdict().items() if v is not None)


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string, the format of Knative autoscaling annotations (``60s``)."""
    body = text.strip()
    if body == "0":
        return 0.0
    if not body or _GO_PART_RE.sub("", body) != "":
        raise ValueError(f"not a duration such as 60s, 1m or 1m30s: {text!r}")
    return sum(float(n) * _GO_SECONDS[unit] for n, unit in _GO_PART_RE.findall(body))


def load_documents(knative_dir: Path) -> list[tuple[Path, Document]]:
    """Every YAML document `kustomize build knative_dir` gives (a base, or an overlay of it),
    with the file it came from; kustomize's own build where it is installed."""
    try:
        return build_checked(knative_dir)
    except KustomizeError as exc:
        raise ManifestError(exc.file, exc.field, str(exc).split(": ", 2)[-1]) from exc


def load_config_env(knative_dir: Path, name: str = CONFIG_MAP) -> dict[str, str]:
    """The settings ConfigMap the Services read with `envFrom`, as environment variables."""
    for path, doc in load_documents(knative_dir):
        if doc.get("kind") == "ConfigMap" and _dig(doc, "metadata.name") == name:
            data = doc.get("data") or {}
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise ManifestError(path, "data", "values must be strings")
            return dict(data)
    return {}


def overlay_dir(name: str, root: Path | None = None) -> Path:
    """`knative/overlays/<name>`: an environment's manifests (dev, production)."""
    folder = (root or knative_root()) / "overlays" / name
    if not (folder / "kustomization.yaml").is_file():
        raise ManifestError(folder, "(overlay)", f"no overlay named {name!r}")
    return folder


def load_runner_scaling(knative_dir: Path, service_name: str = RUNNER_SERVICE) -> RunnerScaling:
    """Scaling of the runner Knative Service, from its revision template."""
    path, doc = _find(knative_dir, _SERVING_V1, "Service", service_name)
    annotations = _dig(doc, "spec.template.metadata.annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestError(path, "spec.template.metadata.annotations", "must be a mapping")

    def annotation(key: str) -> str | None:
        value = annotations.get(_ANNOTATION + key)
        if value is not None and not isinstance(value, str):
            raise ManifestError(path, f"annotations[{_ANNOTATION}{key}]", "must be a quoted string")
        return value

    def int_annotation(key: str) -> int:
        value = annotation(key)
        if value is None or not value.isdigit():
            raise ManifestError(
                path, f"annotations[{_ANNOTATION}{key}]", f"need an integer, got {value!r}"
            )
        return int(value)

    delay = annotation("scale-down-delay")
    try:
        delay_s = parse_go_duration(delay) if delay is not None else 0.0
    except ValueError as exc:
        raise ManifestError(path, f"annotations[{_ANNOTATION}scale-down-delay]", str(exc)) from exc
    return RunnerScaling(
        min_scale=int_annotation("min-scale"),
        max_scale=int_annotation("max-scale"),
        scale_down_delay_s=delay_s,
        container_concurrency=_field(path, doc, "spec.template.spec.containerConcurrency", int),
        timeout_s=_field(path, doc, "spec.template.spec.timeoutSeconds", int),
        cpu_request=_cpu_request(path, doc),
    )


def _cpu_request(path: Path, doc: Document) -> float | None:
    containers = _dig(doc, "spec.template.spec.containers") or []
    if not isinstance(containers, list) or not containers:
        return None
    # The serving container is the one with a port (Knative allows sidecars beside it).
    index = next((i for i, c in enumerate(containers) if isinstance(c, dict) and c.get("ports")), 0)
    field = f"spec.template.spec.containers.{index}.resources.requests.cpu"
    cpu = _dig(doc, field)
    if cpu is None:
        return None
    try:
        value = float(parse_quantity(cpu))  # type: ignore[no-untyped-call]
    except ValueError:
        raise ManifestError(path, field, f"need a CPU quantity (1, 500m), got {cpu!r}") from None
    if value <= 0:
        raise ManifestError(path, field, f"must be above 0, got {cpu!r}")
    return value


def load_triggers(knative_dir: Path) -> list[TriggerSpec]:
    """Every Trigger, with delivery settings inherited from its Broker when it has none."""
    documents = load_documents(knative_dir)
    brokers = {
        _dig(doc, "metadata.name"): doc
        for _, doc in documents
        if doc.get("apiVersion") == _EVENTING_V1 and doc.get("kind") == "Broker"
    }
    return [
        _trigger(path, doc, _dig(brokers.get(_dig(doc, "spec.broker")), "spec.delivery"))
        for path, doc in documents
        if doc.get("apiVersion") == _EVENTING_V1 and doc.get("kind") == "Trigger"
    ]


def _trigger(path: Path, doc: Document, broker_delivery: Any) -> TriggerSpec:
    spec = _field(path, doc, "spec", dict)
    if "filters" in spec:
        raise ManifestError(
            path, "spec.filters", "not supported by the dev broker; use spec.filter.attributes"
        )
    attributes = _dig(spec, "filter.attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise ManifestError(path, "spec.filter.attributes", "must map attribute names to strings")
    subscriber_service, subscriber_path = _destination(
        path, "spec.subscriber", spec.get("subscriber")
    )
    delivery = spec.get("delivery", broker_delivery) or {}
    where = "spec.delivery" if "delivery" in spec else "(broker) spec.delivery"
    if not isinstance(delivery, dict):
        raise ManifestError(path, where, "must be a mapping")
    retry = delivery.get("retry", 0)
    if not isinstance(retry, int) or isinstance(retry, bool) or retry < 0:
        raise ManifestError(path, f"{where}.retry", f"need a non-negative integer, got {retry!r}")
    policy = delivery.get("backoffPolicy", "exponential")
    if policy not in ("linear", "exponential"):
        raise ManifestError(
            path, f"{where}.backoffPolicy", f"need linear or exponential, got {policy!r}"
        )
    dead_letter_service, dead_letter_path = (None, "")
    if "deadLetterSink" in delivery:
        dead_letter_service, dead_letter_path = _destination(
            path, f"{where}.deadLetterSink", delivery["deadLetterSink"]
        )
    return TriggerSpec(
        name=_field(path, doc, "metadata.name", str),
        broker=_field(path, doc, "spec.broker", str),
        filter_attributes=attributes,
        subscriber_service=subscriber_service,
        subscriber_uri_path=subscriber_path,
        retry=retry,
        backoff_policy=policy,
        backoff_delay_s=_duration(path, f"{where}.backoffDelay", delivery.get("backoffDelay"))
        or 0.0,
        timeout_s=_duration(path, f"{where}.timeout", delivery.get("timeout")),
        dead_letter_service=dead_letter_service,
        dead_letter_uri_path=dead_letter_path,
    )


def _destination(path: Path, where: str, dest: Any) -> tuple[str, str]:
    """(service name, URI path) of a Knative Destination that refers to a Service."""
    if not isinstance(dest, dict):
        raise ManifestError(path, where, "missing, or not a mapping")
    ref = dest.get("ref")
    if (
        not isinstance(ref, dict)
        or ref.get("kind") != "Service"
        or not isinstance(ref.get("name"), str)
    ):
        raise ManifestError(
            path, f"{where}.ref", "need a ref to a Service (the dev stack resolves them by name)"
        )
    uri = dest.get("uri", "")
    if not isinstance(uri, str) or (uri and not uri.startswith("/")):
        raise ManifestError(
            path, f"{where}.uri", f"with a ref, uri must be a path starting with '/', got {uri!r}"
        )
    return ref["name"], uri


def _duration(path: Path, where: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_iso8601_duration(value if isinstance(value, str) else repr(value))
    except ValueError as exc:
        raise ManifestError(path, where, str(exc)) from exc


def _dig(value: Any, dotted: str) -> Any:
    """The value at a dotted path of nested mappings (digits index lists), or None."""
    for key in dotted.split("."):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _field(path: Path, doc: Document, dotted: str, kind: type[Any]) -> Any:
    value = _dig(doc, dotted)
    if value is None:
        raise ManifestError(path, dotted, "missing")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(path, dotted, f"need {kind.__name__}, got {value!r}")
    return value


def _find(knative_dir: Path, api_version: str, kind: str, name: str) -> tuple[Path, Document]:
    for path, doc in load_documents(knative_dir):
        if (
            doc.get("apiVersion") == api_version
            and doc.get("kind") == kind
            and _dig(doc, "metadata.name") == name
        ):
            return path, doc
    raise ManifestError(
        knative_dir / "kustomization.yaml", "resources", f"no {api_version} {kind} named {name!r}"
    )
