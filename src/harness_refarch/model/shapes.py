"""Shape checks for rendered objects: the fields the checks read have the types Kubernetes uses.

helm renders whatever the templates produce: ``spec: "x"``, ``replicas: "three"`` or
``env: ["FOO=bar"]`` are valid YAML but not valid objects. Instead of letting a check crash on
them (in every test of the pair, without naming the object), each wrongly typed field becomes one
finding naming the object, the field and the expected type, and is dropped from the parsed body
so that every check simply sees it as absent. Schema validation proper (every field, every kind)
is the Kubernetes-conformance part of the suite; this covers what our own checks read.
"""

from __future__ import annotations

from typing import Any

from harness_refarch.model.findings import Finding

SHAPE = "shape"

# A spec is a type, or (type, children): for dict, children maps field -> spec; for list, the
# spec of every item. ``int`` never admits a bool.
Spec = Any
_MAP: Spec = (dict, {})
_LABELS: Spec = (dict, {})
_ENV_SOURCE = (dict, {"configMapKeyRef": _MAP, "secretKeyRef": _MAP, "fieldRef": _MAP,
                      "resourceFieldRef": _MAP})
CONTAINER: Spec = (dict, {
    "name": str, "image": str,
    "env": (list, (dict, {"name": str, "valueFrom": _ENV_SOURCE})),
    "envFrom": (list, (dict, {"configMapRef": _MAP, "secretRef": _MAP, "prefix": str})),
    "resources": (dict, {"requests": _MAP, "limits": _MAP}),
    "ports": (list, _MAP),
})
POD: Spec = (dict, {
    "containers": (list, CONTAINER), "initContainers": (list, CONTAINER),
    "volumes": (list, _MAP), "affinity": _MAP, "topologySpreadConstraints": (list, _MAP),
})
TEMPLATE: Spec = (dict, {"metadata": (dict, {"labels": _LABELS, "annotations": _MAP}), "spec": POD})
_WORKLOAD: Spec = (dict, {"replicas": int, "selector": _MAP, "template": TEMPLATE, "serviceName": str,
                          "volumeClaimTemplates": (list, _MAP)})
_SPECS: dict[str, Spec] = {
    "Deployment": _WORKLOAD, "StatefulSet": _WORKLOAD, "ReplicaSet": _WORKLOAD, "DaemonSet": _WORKLOAD,
    "Job": (dict, {"template": TEMPLATE}),
    "CronJob": (dict, {"schedule": str, "jobTemplate": (dict, {"spec": (dict, {"template": TEMPLATE})})}),
    "HorizontalPodAutoscaler": (dict, {"minReplicas": int, "maxReplicas": int, "scaleTargetRef": _MAP}),
    "PodDisruptionBudget": (dict, {"selector": _MAP}),
    "Service": (dict, {"selector": _MAP, "ports": (list, _MAP)}),
    "PersistentVolumeClaim": (dict, {"resources": (dict, {"requests": _MAP})}),
}
_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", int: "an integer"}


def _ok(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _walk(value: Any, spec: Spec, path: str, key: str, out: list[Finding]) -> bool:
    """Check ``value`` against ``spec`` (fixing children in place); False if ``value`` is wrong."""
    kind, children = spec if isinstance(spec, tuple) else (spec, None)
    if not _ok(value, kind):
        out.append(Finding(SHAPE, key, path, _TYPE_NAMES.get(kind, kind.__name__),
                           f"{type(value).__name__} (field ignored by the checks)"))
        return False
    if kind is dict and children:
        for name, child in children.items():
            if name in value and value[name] is not None and not _walk(value[name], child, f"{path}.{name}",
                                                                       key, out):
                del value[name]
    elif kind is list and children is not None:
        value[:] = [item for i, item in enumerate(value)
                    if item is None or _walk(item, children, f"{path}[{i}]", key, out)]
        value[:] = [item for item in value if item is not None]
    return True


def normalise(doc: dict[str, Any], key: str) -> list[Finding]:
    """Shape-check one rendered object in place; return a finding per wrongly typed field."""
    out: list[Finding] = []
    spec: Spec = (dict, {
        "metadata": (dict, {"name": str, "namespace": str, "labels": _LABELS, "annotations": _MAP}),
        "spec": _SPECS.get(str(doc.get("kind")), _MAP),
    })
    if str(doc.get("kind")) == "ConfigMap":
        spec[1]["data"] = _MAP
    _walk(doc, spec, "", key, out)
    return [Finding(f.check, f.workload, f.field.lstrip("."), f.expected, f.actual) for f in out]
