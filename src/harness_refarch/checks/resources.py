"""Resource requests and limits, JVM heap headroom, and capacity totals per profile."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness_refarch.catalog import Pair
from harness_refarch.findings import Finding
from harness_refarch.manifest import Container, Manifest, Workload
from harness_refarch.quantities import (
    QuantityError,
    cpu_cores,
    format_bytes,
    format_cores,
    jvm_heap_bytes,
    memory_bytes,
    parse_quantity,
)

CHECK = "resources"
HEAP_RATIO = 0.75
HEAP_KEYS = ("MEMORY",)


def _where(w: Workload, c: Container) -> str:
    return f"{w.key} container {c.name}" + (" (init)" if c.init else "")


def container_resources(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Every container requests CPU and memory, limits memory, and requests <= limits."""
    out = []
    for w in manifest.workloads.values():
        for c in w.containers:
            where = _where(w, c)
            for res in ("cpu", "memory"):
                if c.request(res) is None:
                    out.append(Finding(CHECK, where, f"resources.requests.{res}", "set", "missing"))
            if c.limit("memory") is None:
                out.append(Finding(CHECK, where, "resources.limits.memory", "set", "missing"))
            for res in ("cpu", "memory"):
                parsed = {}
                for section, raw in (("requests", c.request(res)), ("limits", c.limit(res))):
                    if raw is None:
                        continue
                    try:
                        parsed[section] = parse_quantity(raw)
                    except QuantityError as exc:
                        out.append(Finding(CHECK, where, f"resources.{section}.{res}",
                                           "a Kubernetes quantity", str(exc)))
                if len(parsed) == 2 and parsed["requests"] > parsed["limits"]:
                    out.append(Finding(CHECK, where, f"resources.requests.{res}",
                                       f"<= limit {c.limit(res)}", str(c.request(res))))
    return out


def jvm_heap(spec: Pair, manifest: Manifest) -> list[Finding]:
    """The JVM heap (``MEMORY``) leaves >= 25% of the memory limit for off-heap use."""
    out = []
    for w in manifest.workloads.values():
        for c in w.main_containers:
            for key in HEAP_KEYS:
                var = c.env.get(key)
                if var is None or var.value is None:
                    continue
                where = _where(w, c)
                try:
                    heap = jvm_heap_bytes(var.value)
                except QuantityError as exc:
                    out.append(Finding(CHECK, where, f"{key} ({var.describe()})",
                                       "a JVM heap size", str(exc)))
                    continue
                try:
                    limit = memory_bytes(c.limit("memory")) if c.limit("memory") is not None else 0
                except QuantityError as exc:
                    out.append(Finding(CHECK, where, "resources.limits.memory", "a Kubernetes quantity",
                                       str(exc)))
                    continue
                if limit <= 0:
                    out.append(Finding(CHECK, where, "resources.limits.memory",
                                       f"set and > 0 (JVM heap {key}={var.value})",
                                       str(c.limit("memory") or "missing")))
                    continue
                if heap > HEAP_RATIO * limit:
                    out.append(Finding(
                        CHECK, where, f"{key} ({var.describe()})",
                        f"<= {HEAP_RATIO:.0%} of memory limit {c.limit('memory')} "
                        f"({format_bytes(HEAP_RATIO * limit)})",
                        f"{var.value} ({heap / limit:.0%})"))
    return out


@dataclass
class Usage:
    """Capacity of one workload or of a whole render: effective replicas x requests, storage."""

    cpu: float = 0.0
    memory: int = 0
    storage: int = 0

    def __iadd__(self, other: Usage) -> Usage:
        self.cpu += other.cpu
        self.memory += other.memory
        self.storage += other.storage
        return self


@dataclass
class Totals:
    workloads: dict[str, Usage] = field(default_factory=dict)

    def total(self, keys: Sequence[str] | None = None) -> Usage:
        out = Usage()
        for key in (self.workloads if keys is None else keys):
            out += self.workloads[key]
        return out


def _safe(fn, value: object) -> float:  # type: ignore[no-untyped-def]
    try:
        return float(fn(value)) if value is not None else 0.0
    except QuantityError:
        return 0.0


def totals(manifest: Manifest) -> Totals:
    """Requested capacity per workload: replicas x (sum of containers), plus PVC storage."""
    out = Totals()
    claims = {o.name: o for o in manifest.of_kind("PersistentVolumeClaim")}
    for w in manifest.workloads.values():
        replicas = w.replicas if w.replicas is not None else 1
        u = Usage()
        # A pod's effective request: the app containers (plus sidecar init containers) summed,
        # or the largest ordinary init container, whichever is bigger.
        app = [c for c in w.containers if not c.init or c.restart_always]
        init = [c for c in w.containers if c.init and not c.restart_always]
        for res, parse in (("cpu", cpu_cores), ("memory", memory_bytes)):
            per_pod = max(sum(_safe(parse, c.request(res)) for c in app),
                          max((_safe(parse, c.request(res)) for c in init), default=0.0))
            if res == "cpu":
                u.cpu += replicas * per_pod
            else:
                u.memory += int(replicas * per_pod)
        for vct in w.volume_claim_templates:
            size = (((vct.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
            u.storage += int(replicas * _safe(memory_bytes, size))
        for name in w.pvc_names:
            pvc = claims.get(name)
            size = ((pvc.spec.get("resources") or {}).get("requests") or {}).get("storage") if pvc else None
            u.storage += int(_safe(memory_bytes, size))
        out.workloads[w.key] = u
    return out


def demo_minimum(spec: Pair, manifest: Manifest) -> list[Finding]:
    """A profile with a documented minimum (demo: 3 cores, 14 GiB for CI+CD) fits in it."""
    profile = spec.profile
    out = []
    total = totals(manifest).total()
    if profile.minimum_cpu is not None and total.cpu > profile.minimum_cpu + 1e-9:
        out.append(Finding(CHECK, f"{profile.name} profile (all workloads)", "CPU requested",
                           f"<= {format_cores(profile.minimum_cpu)} (documented minimum)",
                           format_cores(total.cpu)))
    if profile.minimum_memory is not None:
        limit = memory_bytes(profile.minimum_memory)
        if total.memory > limit:
            out.append(Finding(CHECK, f"{profile.name} profile (all workloads)", "memory requested",
                               f"<= {profile.minimum_memory} (documented minimum)",
                               format_bytes(total.memory)))
    return out


def never_shrinks(chain: Sequence[tuple[str, Manifest]]) -> list[Finding]:
    """Capacity per workload and in total never shrinks from one profile to the next larger.

    ``chain`` lists (profile name, manifest) from smallest to largest. Workloads present in
    only one of two neighbours (e.g. databases moved outside the cluster) are left out of
    both the per-workload and the total comparison for that step.
    """
    out = []
    fmt = {"cpu": format_cores, "memory": format_bytes, "storage": format_bytes}
    for (small_name, small), (big_name, big) in itertools.pairwise(chain):
        t_small, t_big = totals(small), totals(big)
        common = [k for k in t_small.workloads if k in t_big.workloads]
        rows = [(k, t_small.workloads[k], t_big.workloads[k]) for k in common]
        rows.append(("total of common workloads", t_small.total(common), t_big.total(common)))
        for key, a, b in rows:
            for res in ("cpu", "memory", "storage"):
                before, after = getattr(a, res), getattr(b, res)
                if after + 1e-9 < before:
                    out.append(Finding(
                        CHECK, key, f"{res} requested (replicas x requests), {small_name} -> {big_name}",
                        f">= {fmt[res](before)} ({small_name})", f"{fmt[res](after)} ({big_name})"))
    return out
