"""Checks a manifest the way the API server would: Knative kinds against their CRD schemas
(`../shared/knative-crds/`), core Kubernetes kinds against the `kubernetes` package's models.

The models list every field of each API type with its JSON name and type, so a misspelt field
(which the API server would prune, silently) or a wrong type is an error here. Required fields
are not in the models; the invariant tests check the ones that matter.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import yaml
from jsonschema import Draft7Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = REPO_ROOT.parent / "shared" / "knative-crds"

# (API group, kind) -> CRD file in CRD_DIR.
CRD_FILES = {
    ("serving.knative.dev", "Service"): "serving-service.yaml",
    ("eventing.knative.dev", "Broker"): "eventing-broker.yaml",
    ("eventing.knative.dev", "Trigger"): "eventing-trigger.yaml",
    ("eventing.knative.dev", "EventPolicy"): "eventing-eventpolicy.yaml",
    ("sources.knative.dev", "SinkBinding"): "eventing-sinkbindings.yaml",
}
# (apiVersion, kind) of core kinds -> the kubernetes client's model class.
MODELS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
    ("batch/v1", "CronJob"): "V1CronJob",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
}
_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "float": (int, float),
    "datetime": (str,),
    "object": (object,),
}


def crd_errors(doc: dict[str, Any]) -> list[str]:
    if not CRD_DIR.is_dir():
        pytest.skip(f"Knative CRD schemas not found at {CRD_DIR}")
    group, _, version = doc["apiVersion"].rpartition("/")
    crd_file = CRD_FILES[(group, doc["kind"])]
    crd = yaml.safe_load((CRD_DIR / crd_file).read_text(encoding="utf-8"))
    assert (crd["spec"]["group"], crd["spec"]["names"]["kind"]) == (group, doc["kind"])
    versions = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    assert version in versions, f"{doc['apiVersion']} is not a served version of {crd_file}"
    validator = Draft7Validator(versions[version]["schema"]["openAPIV3Schema"])
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def model_errors(value: Any, type_name: str, where: str = "") -> list[str]:
    """Errors of `value` against a kubernetes client type (`V1CronJob`, `list[V1Container]`)."""
    if type_name in _SCALARS:
        ok = isinstance(value, _SCALARS[type_name]) and not (
            type_name == "int" and isinstance(value, bool)
        )
        return [] if ok else [f"{where}: need {type_name}, got {value!r}"]
    if (match := re.fullmatch(r"[Ll]ist\[(.+)\]", type_name)) is not None:
        if not isinstance(value, list):
            return [f"{where}: need a list"]
        return [
            e for i, item in enumerate(value) for e in model_errors(item, match[1], f"{where}[{i}]")
        ]
    if (match := re.fullmatch(r"[Dd]ict[\[(]str, (.+)[\])]", type_name)) is not None:
        if not isinstance(value, dict):
            return [f"{where}: need a mapping"]
        return [
            e for k, item in value.items() for e in model_errors(item, match[1], f"{where}.{k}")
        ]
    model = getattr(kubernetes.client, type_name)
    if not isinstance(value, dict):
        return [f"{where}: need a {type_name} mapping"]
    fields = {
        json_name: model.openapi_types[attr] for attr, json_name in model.attribute_map.items()
    }
    errors = [f"{where}.{k}: no such field of {type_name}" for k in value if k not in fields]
    for key, item in value.items():
        if key in fields and item is not None:
            errors += model_errors(item, fields[key], f"{where}.{key}" if where else key)
    return errors


def errors(doc: dict[str, Any]) -> list[str]:
    """Schema errors of one manifest document (Knative CRD or core kind)."""
    model = MODELS.get((doc["apiVersion"], doc["kind"]))
    if model is not None:
        return model_errors(doc, model)
    return crd_errors(doc)
