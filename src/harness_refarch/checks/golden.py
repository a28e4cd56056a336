"""Golden expectations: per workload replicas, HPA bounds, requests and limits, storage.

``snapshot`` records them from a render (``--refarch-update``); ``compare`` diffs a render
against the recorded file with deepdiff and phrases every difference as a finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepdiff import DeepDiff

from harness_refarch.findings import Finding
from harness_refarch.manifest import Manifest

CHECK = "golden"
# Which recorded workloads a per-workload test is about (see the refarch(workloads=...) marker).
WORKLOAD_FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "all": lambda entry: True,
    "stateless": lambda entry: not entry.get("stateful") and entry.get("replicas") is not None,
    "jvm": lambda entry: bool(entry.get("jvm")),
}


def snapshot(manifest: Manifest) -> dict[str, Any]:
    workloads: dict[str, Any] = {}
    for w in sorted(manifest.workloads.values(), key=lambda w: w.key):
        entry: dict[str, Any] = {"replicas": w.replicas, "stateful": w.stateful,
                                 "jvm": any("MEMORY" in c.env for c in w.main_containers)}
        if w.hpa is not None:
            entry["hpa"] = {"min": w.hpa.spec.get("minReplicas", 1), "max": w.hpa.spec.get("maxReplicas")}
        entry["containers"] = {
            c.name: {section: {k: str(v) for k, v in sorted((c.resources.get(section) or {}).items())}
                     for section in ("requests", "limits")}
            for c in w.containers
        }
        storage = {}
        for vct in w.volume_claim_templates:
            size = (((vct.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
            storage[(vct.get("metadata") or {}).get("name", "")] = str(size)
        if storage:
            entry["storage"] = storage
        workloads[w.key] = entry
    return {"workloads": workloads}


def _describe(path: list[Any]) -> tuple[str, str]:
    """Split a deepdiff path into (workload, dotted field)."""
    if len(path) >= 2 and path[0] == "workloads":
        return str(path[1]), ".".join(str(p) for p in path[2:]) or "(whole workload)"
    return "golden file", ".".join(str(p) for p in path)


def compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[Finding]:
    diff = DeepDiff(expected, actual, view="tree", ignore_order=True)
    out = []
    for change_type, items in diff.items():
        for item in items:
            workload, field = _describe(item.path(output_format="list"))
            if change_type.endswith("_added"):
                exp, act = "absent", _short(item.t2)
            elif change_type.endswith("_removed"):
                exp, act = _short(item.t1), "absent"
            else:
                exp, act = _short(item.t1), _short(item.t2)
            out.append(Finding(CHECK, workload, field, exp, act,
                               "if intended, record it with --refarch-update and review the diff"))
    return out


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 160 else text[:157] + "..."
