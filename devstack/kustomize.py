"""`kustomize build` for the subset of kustomize the manifests use, in Python.

The dev stack and the tests need the documents an overlay produces, on machines without the
kustomize binary. Only what can be reproduced exactly is accepted, and anything else is an
error rather than silently ignored:

- `resources`: files, and folders holding a kustomization (bases), in order;
- `patches` (with `path`, optional `target` by kind and name): JSON 6902 patches (a list of
  add/replace/remove operations), or strategic-merge patches made of mappings only. Lists are
  refused in a strategic-merge patch because kustomize merges them by a key only for the
  Kubernetes kinds it has schemas for; for Knative's CRDs it would replace them, so a JSON 6902
  path says exactly which list item changes;
- `labels` (`pairs`, added to `metadata.labels`), `namespace`, `images` (`newName`/`newTag`).

It refuses what kustomize refuses about layout: a base that contains a kustomization which led to
it (an overlay inside its own base: kustomize's "cycle detected"), and a resource or patch file
outside the kustomization's folder (kustomize's default load restrictor). Each document is
returned with the file it came from, for error messages. Where kustomize is installed (kubectl
carries it), `build_checked` builds with both and takes kustomize's documents, so a difference
between the two is an error on every machine that has the real tool.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

Document = dict[str, Any]
KUSTOMIZATION = "kustomization.yaml"
_ALLOWED_KEYS = {"apiVersion", "kind", "resources", "patches", "labels", "namespace", "images"}
_IMAGE_PATHS = (
    ("spec", "template", "spec", "containers"),
    ("spec", "jobTemplate", "spec", "template", "spec", "containers"),
)


class KustomizeError(ValueError):
    def __init__(self, file: Path, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.file = file
        self.field = field


def load_yaml(path: Path) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        raise KustomizeError(path, "(yaml)", str(exc)) from exc


def build(folder: Path) -> list[tuple[Path, Document]]:
    """The documents `kustomize build folder` would print, each with its source file."""
    return _build(folder.resolve(), ())


def _build(folder: Path, referrers: tuple[Path, ...]) -> list[tuple[Path, Document]]:
    """`build` of a base that the kustomizations in `referrers` (nearest first) lead to."""
    kustomization = folder / KUSTOMIZATION
    if not kustomization.is_file():
        raise KustomizeError(kustomization, "(file)", "not found")
    loaded = load_yaml(kustomization)
    spec = loaded[0] if loaded else {}
    if not isinstance(spec, dict):
        raise KustomizeError(kustomization, "(document)", "must be a mapping")
    unknown = set(spec) - _ALLOWED_KEYS
    if unknown:
        raise KustomizeError(kustomization, sorted(unknown)[0], "not supported by this builder")
    documents: list[tuple[Path, Document]] = []
    resources = spec.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise KustomizeError(kustomization, "resources", "must be a list of paths")
    for name in resources:
        path = (folder / name).resolve()
        if path.is_dir():
            for referrer in (folder, *referrers):
                if referrer.is_relative_to(path):
                    raise KustomizeError(
                        kustomization,
                        "resources",
                        f"{name!r} contains {referrer}, which uses it (kustomize: cycle detected);"
                        " keep the base and its overlays in sibling folders",
                    )
            documents += _build(path, (folder, *referrers))
        elif path.is_file():
            _inside(kustomization, "resources", folder, name, path)
            for doc in load_yaml(path):
                if not isinstance(doc, dict):
                    raise KustomizeError(path, "(document)", "each YAML document must be a mapping")
                documents.append((path, doc))
        else:
            raise KustomizeError(kustomization, "resources", f"{name!r} is not a file in {folder}")
    documents = [(p, copy.deepcopy(d)) for p, d in documents]
    for index, entry in enumerate(spec.get("patches", [])):
        _apply_patch(folder, kustomization, f"patches[{index}]", entry, documents)
    _label(kustomization, spec.get("labels", []), documents)
    namespace = spec.get("namespace")
    if namespace is not None:
        for _, doc in documents:
            doc.setdefault("metadata", {})["namespace"] = namespace
    _images(kustomization, spec.get("images", []), documents)
    return documents


def _inside(kustomization: Path, field: str, folder: Path, name: str, path: Path) -> None:
    """kustomize reads files only at or below a kustomization's folder (its load restrictor)."""
    if not path.is_relative_to(folder):
        message = f"{name!r} is outside {folder}; kustomize reads files only below it"
        raise KustomizeError(kustomization, field, message)


def kustomize_command() -> list[str] | None:
    """The installed kustomize: the standalone binary, or the one kubectl carries."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def build_with_kustomize(folder: Path, command: list[str]) -> list[Document]:
    """The documents the real tool prints for `folder`; its error message if it refuses."""
    done = subprocess.run(
        [*command, str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise KustomizeError(folder / KUSTOMIZATION, "(kustomize)", message[0])
    return [d for d in yaml.safe_load_all(done.stdout) if d is not None]


def identity(doc: Document) -> tuple[str, str, str, str]:
    """What names a resource in a build: API version, kind, namespace and name."""
    metadata = doc.get("metadata") or {}
    return (
        str(doc.get("apiVersion")),
        str(doc.get("kind")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name")),
    )


def build_checked(folder: Path) -> list[tuple[Path, Document]]:
    """`build`, then, where kustomize is installed, kustomize's documents in its order.

    The dev stack reads manifests through this: a layout or a patch that the real tool reads
    differently from this builder stops the dev stack rather than running something that would not
    ship.
    """
    documents = build(folder)
    command = kustomize_command()
    if command is None:
        return documents
    real = build_with_kustomize(folder, command)
    ours = {identity(doc): (path, doc) for path, doc in documents}
    theirs = {identity(doc): doc for doc in real}
    differ = sorted(
        f"{key[1]}/{key[3]}"
        for key in set(ours) | set(theirs)
        if key not in ours or theirs.get(key) != ours[key][1]
    )
    if differ:
        raise KustomizeError(
            folder / KUSTOMIZATION,
            "(kustomize)",
            f"kustomize builds {', '.join(differ)} differently from devstack/kustomize.py",
        )
    return [(ours[identity(doc)][0], doc) for doc in real]


def _matches(doc: Document, kind: str | None, name: str | None) -> bool:
    return (kind is None or doc.get("kind") == kind) and (
        name is None or doc.get("metadata", {}).get("name") == name
    )


def _apply_patch(
    folder: Path,
    kustomization: Path,
    where: str,
    entry: Any,
    documents: list[tuple[Path, Document]],
) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise KustomizeError(kustomization, where, "need a mapping with `path` to a patch file")
    patch_file = (folder / entry["path"]).resolve()
    _inside(kustomization, f"{where}.path", folder, entry["path"], patch_file)
    if not patch_file.is_file():
        raise KustomizeError(kustomization, f"{where}.path", f"{entry['path']!r} not found")
    (patch,) = load_yaml(patch_file) or [None]
    target = entry.get("target") or {}
    if isinstance(patch, list):
        kind, name = target.get("kind"), target.get("name")
        if kind is None or name is None:
            raise KustomizeError(kustomization, f"{where}.target", "a JSON 6902 patch needs one")
    elif isinstance(patch, dict):
        kind = target.get("kind", patch.get("kind"))
        name = target.get("name", patch.get("metadata", {}).get("name"))
        _no_lists(patch_file, patch, "")
    else:
        raise KustomizeError(patch_file, "(document)", "a patch is a mapping or a list")
    hits = [doc for _, doc in documents if _matches(doc, kind, name)]
    if not hits:
        raise KustomizeError(kustomization, where, f"no resource {kind}/{name} to patch")
    for doc in hits:
        if isinstance(patch, list):
            for number, op in enumerate(patch):
                _json6902(patch_file, f"[{number}]", doc, op)
        else:
            body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
            merge_patch(doc, body)


def _no_lists(path: Path, value: Any, where: str) -> None:
    if isinstance(value, list):
        raise KustomizeError(
            path, where or "(document)", "lists in a strategic-merge patch: use a JSON 6902 patch"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _no_lists(path, item, f"{where}.{key}" if where else str(key))


def merge_patch(into: Document, patch: Document) -> None:
    """Apply an RFC 7386 merge patch (application/merge-patch+json): a null removes its key,
    a mapping merges into a mapping, anything else replaces. A strategic-merge patch without
    lists (which `_no_lists` refuses) means the same; the tests' stand-ins for the Kubernetes
    API apply their PATCH bodies with it too."""
    for key, value in patch.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            merge_patch(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _pointer(path: Path, where: str, text: Any) -> list[str]:
    if not isinstance(text, str) or not text.startswith("/"):
        raise KustomizeError(path, f"{where}.path", f"need a JSON pointer, got {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/")]


def _json6902(path: Path, where: str, doc: Document, op: Any) -> None:
    if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove"):
        raise KustomizeError(path, f"{where}.op", "need add, replace or remove")
    parts = _pointer(path, where, op.get("path"))
    parent: Any = doc
    for part in parts[:-1]:
        parent = _step(path, where, parent, part)
    last = parts[-1]
    kind = op["op"]
    if isinstance(parent, list):
        if last == "-" and kind == "add":
            parent.append(copy.deepcopy(op.get("value")))
            return
        if not last.isdigit() or int(last) > len(parent) - (kind != "add"):
            raise KustomizeError(path, f"{where}.path", f"no list index {last!r}")
        index = int(last)
        if kind == "add":
            parent.insert(index, copy.deepcopy(op.get("value")))
        elif kind == "replace":
            parent[index] = copy.deepcopy(op.get("value"))
        else:
            del parent[index]
    elif isinstance(parent, dict):
        if kind != "add" and last not in parent:
            raise KustomizeError(path, f"{where}.path", f"nothing at {op['path']!r} to {kind}")
        if kind == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(op.get("value"))
    else:
        raise KustomizeError(path, f"{where}.path", f"{op['path']!r} is not inside an object")


def _step(path: Path, where: str, value: Any, part: str) -> Any:
    if isinstance(value, dict) and part in value:
        return value[part]
    if isinstance(value, list) and part.isdigit() and int(part) < len(value):
        return value[int(part)]
    raise KustomizeError(path, f"{where}.path", f"no {part!r} on the way")


def _label(kustomization: Path, labels: Any, documents: list[tuple[Path, Document]]) -> None:
    if not isinstance(labels, list):
        raise KustomizeError(kustomization, "labels", "must be a list")
    for index, entry in enumerate(labels):
        if not isinstance(entry, dict) or not isinstance(entry.get("pairs"), dict):
            raise KustomizeError(kustomization, f"labels[{index}]", "need `pairs`")
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise KustomizeError(
                kustomization, f"labels[{index}]", "selectors and templates are not supported"
            )
        for _, doc in documents:
            doc.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])


def _images(kustomization: Path, images: Any, documents: list[tuple[Path, Document]]) -> None:
    if not isinstance(images, list):
        raise KustomizeError(kustomization, "images", "must be a list")
    for entry in images:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise KustomizeError(kustomization, "images", "each entry needs a name")
        for _, doc in documents:
            for keys in _IMAGE_PATHS:
                containers: Any = doc
                for key in keys:
                    containers = containers.get(key) if isinstance(containers, dict) else None
                for container in containers or []:
                    image = container.get("image", "")
                    slash = image.rfind("/")
                    base, tag = image, ""
                    if ":" in image[slash + 1 :]:
                        base, _, tag = image.rpartition(":")
                    if base != name:
                        continue
                    new_tag = entry.get("newTag", tag)
                    new = entry.get("newName", base)
                    container["image"] = f"{new}:{new_tag}" if new_tag else new
