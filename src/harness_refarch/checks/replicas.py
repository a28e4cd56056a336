"""Replica counts and high availability: HPA bounds, PDBs, anti-affinity, database quorum."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness_refarch.checks.registry import check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest, Workload, selector_matches

CHECK = "replicas"


@check("hpa_bounds", findings=(CHECK,), diff=True)
def hpa_bounds(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Every HPA targets a rendered workload and has 1 <= minReplicas <= maxReplicas."""
    out = []
    for hpa in manifest.of_kind("HorizontalPodAutoscaler"):
        target = hpa.spec.get("scaleTargetRef") or {}
        tkey = f"{target.get('kind')}/{target.get('name')}"
        lo, hi = hpa.spec.get("minReplicas", 1), hpa.spec.get("maxReplicas")
        if tkey not in manifest.workloads:
            out.append(Finding(CHECK, hpa.key, "spec.scaleTargetRef", "a rendered workload",
                               tkey, "the HPA scales nothing"))
        if hi is None or lo is None or not 1 <= int(lo) <= int(hi):
            out.append(Finding(CHECK, tkey, "HPA minReplicas <= maxReplicas",
                               "1 <= minReplicas <= maxReplicas", f"min {lo}, max {hi}"))
    return out


def stateless(manifest: Manifest) -> list[Workload]:
    """Long-running workloads without persistent volumes: the ones HA scales out."""
    return [w for w in manifest.workloads.values()
            if w.kind in ("Deployment", "ReplicaSet") and not w.stateful]


def _allowed_disruptions(pdb: Mapping[str, Any], replicas: int) -> int:
    def resolve(value: Any, round_up: bool) -> int:
        if isinstance(value, str) and value.endswith("%"):
            exact = float(value[:-1]) * replicas / 100
            return math.ceil(exact) if round_up else math.floor(exact)
        return int(value)

    spec = pdb.get("spec") or {}
    if "maxUnavailable" in spec:
        return resolve(spec["maxUnavailable"], round_up=True)
    if "minAvailable" in spec:
        return replicas - resolve(spec["minAvailable"], round_up=True)
    return 0


def _selector_text(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as people write it: ``app=x, tier In (a, b)``; ``(empty)`` when it has nothing."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        values = expr.get("values") or []
        listed = f" ({', '.join(map(str, values))})" if values else ""
        parts.append(f"{expr.get('key')} {expr.get('operator')}{listed}")
    return ", ".join(parts) or "(empty)"


def _spread_problem(workload: Workload) -> str | None:
    """None when pod anti-affinity or a topology spread constraint keeps replicas apart, else why not.

    Anti-affinity that exists but selects other pods spreads nothing; the reason then names the
    selector and the pod labels, so the maintainer sees the mismatch rather than "none".
    """
    pod = workload.pod_spec
    labels = workload.pod_labels
    anti = ((pod.get("affinity") or {}).get("podAntiAffinity")) or {}
    terms = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    terms += [t.get("podAffinityTerm") or {}
              for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    spread = list(pod.get("topologySpreadConstraints") or [])
    rules = [("pod anti-affinity", t) for t in terms] + [("topology spread", c) for c in spread]
    if not rules:
        return "none"
    if any(r.get("topologyKey") and selector_matches(r.get("labelSelector"), labels) for _, r in rules):
        return None
    pod_labels = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(none)"
    reasons = []
    for what, rule in rules:
        if not selector_matches(rule.get("labelSelector"), labels):
            reasons.append(f"{what} selector {_selector_text(rule.get('labelSelector'))} "
                           f"does not match the pod labels {pod_labels}")
        else:
            reasons.append(f"{what} over its own pods without a topologyKey")
    return "; ".join(dict.fromkeys(reasons))


def _spreads(workload: Workload) -> bool:
    """True when pod anti-affinity or a topology spread constraint keeps replicas apart."""
    return _spread_problem(workload) is None


@check("high_availability", findings=(CHECK,), where={"ha": True}, workloads="stateless", diff=True)
def high_availability(spec: Pair, manifest: Manifest) -> list[Finding]:
    """3-replica mode: every stateless service survives the loss of one pod or node."""
    out = []
    pdbs = manifest.of_kind("PodDisruptionBudget")
    for w in stateless(manifest):
        replicas = w.replicas or 0
        if replicas < 2:
            out.append(Finding(CHECK, w.key, f"effective replicas ({w.replicas_source})",
                               ">= 2", str(w.replicas)))
        matching = [p for p in pdbs if selector_matches(p.spec.get("selector"), w.pod_labels)]
        if not matching:
            out.append(Finding(CHECK, w.key, "PodDisruptionBudget",
                               "a PDB selecting its pods", "none"))
        else:
            allowed = min(_allowed_disruptions(p.body, replicas) for p in matching)
            if allowed < 1:
                names = ", ".join(p.name for p in matching)
                out.append(Finding(CHECK, w.key, f"disruptions allowed by PDB {names}",
                                   ">= 1", f"{allowed} with {replicas} replica(s)"))
        problem = _spread_problem(w)
        if problem is not None:
            out.append(Finding(CHECK, w.key, "spec.template.spec.affinity",
                               "pod anti-affinity or topology spread over its own pods",
                               problem, "replicas may all land on one node"))
    return out


def _image_has(workload: Workload, word: str) -> bool:
    return any(word in c.image.split("/")[-1] for c in workload.main_containers)


def _in_cluster(spec: Pair, db: str) -> bool:
    expectation = spec.architecture.databases.get(db)
    return expectation is None or expectation.in_cluster


@check("database_quorum", findings=(CHECK,), where={"ha": True, "in_cluster": True}, diff=True)
def database_quorum(spec: Pair, manifest: Manifest) -> list[Finding]:
    """In-cluster MongoDB needs an odd replica set of >= 3 voters; Redis >= 3 sentinels."""
    out = []
    if _in_cluster(spec, "mongo"):
        mongo = [w for w in manifest.workloads.values()
                 if w.kind == "StatefulSet" and _image_has(w, "mongo")]
        members = sum(w.replicas or 0 for w in mongo)
        if not mongo:
            out.append(Finding(CHECK, "MongoDB", "StatefulSet", "an in-cluster replica set", "none"))
        elif members < 3 or members % 2 == 0:
            parts = ", ".join(f"{w.key}={w.replicas}" for w in mongo)
            out.append(Finding(CHECK, "MongoDB", "replica-set members",
                               "an odd number >= 3", f"{members} ({parts})"))
    if _in_cluster(spec, "redis"):
        sentinels = [w for w in manifest.workloads.values()
                     if any("sentinel" in c.name or "sentinel" in c.image for c in w.main_containers)]
        count = sum(w.replicas or 0 for w in sentinels)
        if count < 3:
            out.append(Finding(CHECK, "Redis", "sentinel instances", ">= 3",
                               str(count) if sentinels else "no sentinel container"))
    return out
