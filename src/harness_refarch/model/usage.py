"""Usage totals: what a render asks of a cluster (effective replicas x requests, and storage),
per workload and in total. The capacity checks, node plans and reports all count this way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from harness_refarch.model.manifest import Manifest
from harness_refarch.model.quantities import QuantityError, cpu_cores, memory_bytes


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
