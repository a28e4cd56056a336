"""Resource requests and limits, JVM heap headroom, and capacity totals per profile."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from harness_refarch.checks.registry import check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Container, Manifest, Workload
from harness_refarch.model.quantities import (
    QuantityError,
    format_bytes,
    format_cores,
    jvm_heap_bytes,
    memory_bytes,
    parse_quantity,
)
from harness_refarch.model.usage import totals

CHECK = "resources"
HEAP_RATIO = 0.75
HEAP_KEYS = ("MEMORY",)


def _where(w: Workload, c: Container) -> str:
    return f"{w.key} container {c.name}" + (" (init)" if c.init else "")


@check("container_resources", findings=(CHECK,), workloads="all", diff=True)
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


@check("jvm_heap", findings=(CHECK,), workloads="jvm", diff=True)
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


@check("documented_minimum", findings=(CHECK,), where={"minimum": True}, diff=True)
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


@check("capacity_not_below_previous_profile", findings=(CHECK,), where={"previous": True}, diff=True,
       doc="Replicas x requests and storage per workload and in total: demo <= small <= medium <= large.")
def not_below_previous(spec: Pair, manifest: Manifest, previous: tuple[str, Manifest]) -> list[Finding]:
    """Capacity of the pair's render against ``previous``, the pair one size down."""
    return never_shrinks([previous, (spec.profile.name, manifest)])
