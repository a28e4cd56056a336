"""Replica counts and high availability: HPA bounds, PDBs, anti-affinity, database quorum."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness_refarch.catalog import Pair
from harness_refarch.findings import Finding
from harness_refarch.manifest import Manifest, Workload, selector_matches

CHECK = "replicas"


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


def _spreads(workload: Workload) -> bool:
    """True when pod anti-affinity or a topology spread constraint keeps replicas apart."""
    pod = workload.pod_spec
    labels = workload.pod_labels
    anti = ((pod.get("affinity") or {}).get("podAntiAffinity")) or {}
    terms = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    terms += [t.get("podAffinityTerm") or {}
              for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    if any(t.get("topologyKey") and selector_matches(t.get("labelSelector"), labels) for t in terms):
        return True
    return any(c.get("topologyKey") and selector_matches(c.get("labelSelector"), labels)
               for c in pod.get("topologySpreadConstraints") or [])


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
        if not _spreads(w):
            out.append(Finding(CHECK, w.key, "spec.template.spec.affinity",
                               "pod anti-affinity or topology spread over its own pods",
                               "none", "replicas may all land on one node"))
    return out


def _image_has(workload: Workload, word: str) -> bool:
    return any(word in c.image.split("/")[-1] for c in workload.main_containers)


def _in_cluster(spec: Pair, db: str) -> bool:
    expectation = spec.architecture.databases.get(db)
    return expectation is None or expectation.in_cluster


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
