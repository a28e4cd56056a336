"""Capacity planning: the fewest nodes of one shape that hold every pod of a render.

Operators ask "how many 8-core, 32 GiB nodes does the medium profile need?". The answer is a
first-fit-decreasing bin packing of every pod (each replica is a pod with its effective
requests, as :func:`harness_refarch.model.usage.totals` computes them) that honours what
the scheduler would refuse:

* required pod anti-affinity on ``kubernetes.io/hostname`` (both directions, as the scheduler
  applies it: a pod may not join a node holding a pod its terms select, nor a node holding a
  pod whose terms select it);
* topology spread constraints on ``kubernetes.io/hostname`` with
  ``whenUnsatisfiable: DoNotSchedule`` (``maxSkew`` over all nodes of the plan);
* a reserve of each node's CPU and memory for the system (kubelet, OS), 10% by default, and
  DaemonSet pods, which run on every node;
* the kubelet's pod limit per node (110 by default).

Preferred (soft) rules are ignored: they never block scheduling. Terms on other topology keys
(zones) are ignored too: a node count cannot honour them. Jobs and CronJobs count one pod each
(they need room while they run). Pods that fit on no node at all are findings, never silently
dropped. Everything here is pure and fast (a few ms for ~150 pods).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding, places
from harness_refarch.model.manifest import Manifest, Workload, selector_matches
from harness_refarch.model.quantities import QuantityError, cpu_cores, format_bytes, format_cores, memory_bytes
from harness_refarch.model.usage import totals

CHECK = "capacity"
HOSTNAME = "kubernetes.io/hostname"
DEFAULT_RESERVE = 0.10
DEFAULT_MAX_PODS = 110  # the kubelet's default --max-pods
_ONE_POD_KINDS = ("DaemonSet", "Job", "CronJob")
_EPS = 1e-9


class NodeShapeError(RefarchError):
    """A node shape option that cannot be read."""


MAX_NODE_CPU = 100_000  # cores; larger shapes are typos (1e999) and would overflow the plans
MAX_NODE_MEMORY = 2**50  # 1Pi


@dataclass(frozen=True)
class NodeShape:
    """One node type: CPU cores, memory bytes and the pod limit; ``label`` is how it is shown."""

    cpu: float
    memory: int
    max_pods: int = DEFAULT_MAX_PODS
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", f"{self.cpu:g},{format_bytes(self.memory)}")

    @classmethod
    def parse(cls, text: str) -> NodeShape:
        """Read ``"8,32Gi"`` (cores, memory) or ``"8,32Gi,110"`` (and a pod limit per node)."""
        raw = str(text).strip()
        parts = [p.strip() for p in raw.split(",")]
        usage = ("Write it as CPU cores and a memory quantity separated by a comma, e.g. "
                 "--refarch-node-shape 8,32Gi (optionally a third field, the pods per node: 8,32Gi,110).")
        if len(parts) not in (2, 3) or not all(parts):
            raise NodeShapeError(f"Node shape {raw!r} is not of the form CPU,MEMORY[,PODS]. {usage}")
        try:
            cpu = cpu_cores(parts[0])
        except QuantityError:
            raise NodeShapeError(f"Node shape {raw!r}: CPU {parts[0]!r} is not a number of cores "
                                 f"(such as 8 or 7500m). {usage}") from None
        try:
            memory = memory_bytes(parts[1])
        except QuantityError:
            raise NodeShapeError(f"Node shape {raw!r}: memory {parts[1]!r} is not a Kubernetes quantity "
                                 f"(such as 32Gi or 64G). {usage}") from None
        if not math.isfinite(cpu) or not 0 < cpu <= MAX_NODE_CPU:
            raise NodeShapeError(f"Node shape {raw!r}: CPU must be more than 0 cores and at most "
                                 f"{MAX_NODE_CPU:,}. {usage}")
        if memory > MAX_NODE_MEMORY:
            raise NodeShapeError(f"Node shape {raw!r}: memory {parts[1]!r} is more than 1Pi, which no node has. "
                                 f"{usage}")
        if memory <= 0:
            raise NodeShapeError(f"Node shape {raw!r}: memory {parts[1]!r} must be more than 0. {usage}")
        if memory < 2**20:
            raise NodeShapeError(f"Node shape {raw!r}: memory {parts[1]!r} is {memory} bytes, less than 1Mi; "
                                 f"a unit is probably missing (did you mean {parts[1]}Gi?). {usage}")
        max_pods = DEFAULT_MAX_PODS
        if len(parts) == 3:
            if not re.fullmatch(r"[0-9]+", parts[2]) or int(parts[2]) < 1:
                raise NodeShapeError(f"Node shape {raw!r}: the pod limit {parts[2]!r} is not a whole "
                                     f"number of at least 1. {usage}")
            max_pods = int(parts[2])
        return cls(cpu, memory, max_pods, ",".join(parts))


@dataclass(frozen=True)
class NodeUsage:
    """What one planned node holds (requests, not limits), DaemonSet pods included."""

    cpu: float
    memory: int
    pods: tuple[str, ...]  # "Kind/name#replica"


@dataclass(frozen=True)
class NodePlan:
    """The answer for one node shape: how many nodes, what is on each, and what decided it."""

    shape: NodeShape
    reserve: float
    nodes: int
    allocatable_cpu: float  # per node, after the reserve (DaemonSets are in ``usage``)
    allocatable_memory: int
    usage: tuple[NodeUsage, ...]
    unschedulable: tuple[Finding, ...]  # pods bigger than a node: not placed
    binding: str  # "cpu", "memory", "pods-per-node", "anti-affinity", "topology-spread", "none"
    binding_detail: str
    pods: int  # pods placed, DaemonSet pods counted once per node

    @property
    def cpu_utilisation(self) -> float:
        """Requested CPU over allocatable CPU across all nodes (0..1)."""
        return _ratio(sum(u.cpu for u in self.usage), self.nodes * self.allocatable_cpu)

    @property
    def memory_utilisation(self) -> float:
        return _ratio(sum(u.memory for u in self.usage), self.nodes * self.allocatable_memory)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


@dataclass(frozen=True)
class _Pod:
    name: str
    workload: str
    cpu: float
    memory: int


@dataclass(frozen=True)
class _Spread:
    max_skew: int
    matched: frozenset[str]  # workloads whose pods the constraint's selector counts
    self_match: bool


@dataclass
class _Rules:
    conflicts: dict[str, frozenset[str]] = field(default_factory=dict)  # anti-affinity, both directions
    spread: dict[str, tuple[_Spread, ...]] = field(default_factory=dict)


def _anti_affinity_terms(w: Workload) -> list[Mapping[str, Any]]:
    anti = (w.pod_spec.get("affinity") or {}).get("podAntiAffinity") or {}
    return [t for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []
            if isinstance(t, Mapping) and t.get("topologyKey") == HOSTNAME]


def _rules(workloads: Sequence[Workload]) -> _Rules:
    """Who may not share a node with whom, and which spread constraints apply, per workload."""
    rules = _Rules()
    conflicts: dict[str, set[str]] = {w.key: set() for w in workloads}
    for w in workloads:
        for term in _anti_affinity_terms(w):
            for other in workloads:
                if selector_matches(term.get("labelSelector"), other.pod_labels):
                    conflicts[w.key].add(other.key)
                    conflicts[other.key].add(w.key)  # the scheduler checks existing pods' terms too
        spreads = []
        for c in w.pod_spec.get("topologySpreadConstraints") or []:
            if not isinstance(c, Mapping) or c.get("topologyKey") != HOSTNAME:
                continue
            if c.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule":
                continue
            matched = frozenset(o.key for o in workloads if selector_matches(c.get("labelSelector"), o.pod_labels))
            try:
                skew = max(1, int(c.get("maxSkew", 1)))
            except (TypeError, ValueError):
                skew = 1
            spreads.append(_Spread(skew, matched, w.key in matched))
        rules.spread[w.key] = tuple(spreads)
    rules.conflicts = {k: frozenset(v) for k, v in conflicts.items()}
    return rules


def _per_pod(manifest: Manifest) -> dict[str, tuple[float, int]]:
    """Effective requests of one pod per workload, from :func:`totals` (replicas x per pod)."""
    out = {}
    usage = totals(manifest).workloads
    for key, w in manifest.workloads.items():
        replicas = w.replicas if w.replicas is not None else 1
        u = usage[key]
        out[key] = (u.cpu / replicas, round(u.memory / replicas)) if replicas > 0 else (0.0, 0)
    return out


def _pack(pods: Sequence[_Pod], n: int, cpu: float, memory: int, max_pods: int,
          rules: _Rules | None, spread: bool) -> list[list[_Pod]] | None:
    """First-fit of ``pods`` (already sorted) onto ``n`` nodes, or None if one does not fit."""
    cpu_used = [0.0] * n
    mem_used = [0] * n
    placed: list[list[_Pod]] = [[] for _ in range(n)]
    counts: list[Counter[str]] = [Counter() for _ in range(n)]
    for pod in pods:
        conflicts = rules.conflicts.get(pod.workload, frozenset()) if rules else frozenset()
        spreads = rules.spread.get(pod.workload, ()) if rules and spread else ()
        minima = [min(sum(c[w] for w in s.matched) for c in counts) for s in spreads]
        for i in range(n):
            if (cpu_used[i] + pod.cpu > cpu + _EPS or mem_used[i] + pod.memory > memory
                    or len(placed[i]) >= max_pods):
                continue
            node = counts[i]
            if conflicts and any(node[w] for w in conflicts):
                continue
            if any(sum(node[w] for w in s.matched) + s.self_match - low > s.max_skew
                   for s, low in zip(spreads, minima, strict=True)):
                continue
            cpu_used[i] += pod.cpu
            mem_used[i] += pod.memory
            placed[i].append(pod)
            node[pod.workload] += 1
            break
        else:
            return None
    return placed


def _fewest(pods: Sequence[_Pod], lower: int, cpu: float, memory: int, max_pods: int,
            rules: _Rules | None, spread: bool) -> tuple[int, list[list[_Pod]]]:
    """The smallest node count from ``lower`` up for which first-fit succeeds.

    With as many nodes as pods every pod can have a node of its own (each fits an empty node,
    anti-affinity is then moot and every spread count is 0 or 1), so the search ends.
    """
    for n in range(max(lower, 1), max(lower, len(pods), 1) + 1):
        placed = _pack(pods, n, cpu, memory, max_pods, rules, spread)
        if placed is not None:
            return n, placed
    raise AssertionError("unreachable: one pod per node always fits")  # pragma: no cover


def _pods(manifest: Manifest, per_pod: Mapping[str, tuple[float, int]]) -> tuple[list[_Pod], list[_Pod]]:
    """(pods to place, DaemonSet pods that run on every node)."""
    pods, daemons = [], []
    for key, w in manifest.workloads.items():
        cpu, mem = per_pod[key]
        if w.kind == "DaemonSet":
            daemons.append(_Pod(f"{key}#0", key, cpu, mem))
            continue
        replicas = 1 if w.kind in _ONE_POD_KINDS else (w.replicas or 0)
        pods += [_Pod(f"{key}#{i}", key, cpu, mem) for i in range(replicas)]
    return pods, daemons


def _too_big(pod: _Pod, replicas: int, shape: NodeShape, cpu: float, memory: int, reserve: float,
             daemon: bool) -> Finding:
    room = f"{format_cores(cpu)} of CPU and {format_bytes(memory)} of memory"
    return Finding(
        CHECK, pod.workload, "resources.requests (effective, per pod)",
        f"fits one {shape.label} node: {room} allocatable after the {reserve:.0%} system reserve"
        + ("" if daemon else " and DaemonSets"),
        f"{format_cores(pod.cpu)} of CPU and {format_bytes(pod.memory)} of memory per pod"
        + (f" ({replicas} pods left unplaced)" if replicas > 1 else " (not placed)"),
        hint="Plan with a bigger node shape, or lower this workload's requests.")


def plan(manifest: Manifest, node: NodeShape, reserve: float = DEFAULT_RESERVE) -> NodePlan:
    """The fewest ``node``-shaped nodes that hold every pod of ``manifest``; see the module doc."""
    if not 0 <= reserve < 1:
        raise NodeShapeError(f"The system reserve {reserve!r} is not a fraction from 0 up to (not "
                             "including) 1; pass e.g. 0.1 for 10% of each node's CPU and memory.")
    cpu = node.cpu * (1 - reserve)
    memory = int(node.memory * (1 - reserve))
    per_pod = _per_pod(manifest)
    pods, daemons = _pods(manifest, per_pod)
    unschedulable: list[Finding] = []
    ds_cpu, ds_mem = 0.0, 0
    ds_names: list[str] = []
    for d in daemons:
        if ds_cpu + d.cpu > cpu + _EPS or ds_mem + d.memory > memory or len(ds_names) >= node.max_pods:
            unschedulable.append(_too_big(d, 1, node, cpu - ds_cpu, memory - ds_mem, reserve, True))
            continue
        ds_cpu, ds_mem = ds_cpu + d.cpu, ds_mem + d.memory
        ds_names.append(d.name)
    room_cpu, room_mem, room_pods = cpu - ds_cpu, memory - ds_mem, node.max_pods - len(ds_names)
    fitting: list[_Pod] = []
    oversized: dict[str, list[_Pod]] = {}
    for p in pods:
        if p.cpu > room_cpu + _EPS or p.memory > room_mem or room_pods < 1:
            oversized.setdefault(p.workload, []).append(p)
        else:
            fitting.append(p)
    for group in oversized.values():
        unschedulable.append(_too_big(group[0], len(group), node, room_cpu, room_mem, reserve, False))

    def share(p: _Pod) -> float:
        return max(_ratio(p.cpu, room_cpu), _ratio(p.memory, room_mem))

    # Dominant resource share, descending; the name breaks ties so that the plan is reproducible.
    fitting.sort(key=lambda p: (-share(p), p.name))
    workloads = list(manifest.workloads.values())
    rules = _rules(workloads)
    need_cpu = sum(p.cpu for p in fitting)
    need_mem = sum(p.memory for p in fitting)
    bounds = {
        "cpu": math.ceil(_ratio(need_cpu, room_cpu) - _EPS),
        "memory": math.ceil(_ratio(need_mem, room_mem) - _EPS),
        "pods-per-node": math.ceil(_ratio(len(fitting), room_pods)),
    }
    clique, clique_of = _largest_clique(fitting, rules)
    lower = max(1 if fitting else 0, clique, *bounds.values())
    placed: list[list[_Pod]]
    if not fitting:
        n = 1 if ds_names else 0
        placed = [[] for _ in range(n)]
    else:
        n, placed = _fewest(fitting, lower, room_cpu, room_mem, room_pods, rules, spread=True)
    binding, detail = _binding(fitting, n, lower, bounds, clique, clique_of, room_cpu, room_mem, room_pods,
                               rules, need_cpu, need_mem, node)
    usage = tuple(
        NodeUsage(ds_cpu + sum(p.cpu for p in pods_on), ds_mem + sum(p.memory for p in pods_on),
                  tuple(ds_names) + tuple(p.name for p in pods_on))
        for pods_on in placed)
    return NodePlan(node, reserve, n, cpu, memory, usage, tuple(unschedulable), binding, detail,
                    sum(len(u.pods) for u in usage))


def _largest_clique(pods: Sequence[_Pod], rules: _Rules) -> tuple[int, str]:
    """A lower bound from anti-affinity: a self-repelling workload's pods need a node each.

    Any pod of another workload it repels needs yet another node (it may share with neither).
    """
    count = Counter(p.workload for p in pods)
    best, who = 0, ""
    for w, n in sorted(count.items()):
        conflicts = rules.conflicts.get(w, frozenset())
        if w not in conflicts:
            continue
        size = n + (1 if any(o != w and count[o] for o in conflicts) else 0)
        if size > best:
            best, who = size, w
    return best, who


def _binding(pods: Sequence[_Pod], n: int, lower: int, bounds: Mapping[str, int], clique: int, clique_of: str,
             cpu: float, memory: int, max_pods: int, rules: _Rules, need_cpu: float, need_mem: int,
             node: NodeShape) -> tuple[str, str]:
    """Which constraint decided the node count, as a short label and one readable sentence."""
    if not pods:
        return "none", "no pods to place"
    cpu_use = f"{format_cores(need_cpu)} CPU requested of {n} x {format_cores(cpu)} allocatable " \
              f"({_ratio(need_cpu, n * cpu):.0%})"
    mem_use = f"{format_bytes(need_mem)} memory requested of {n} x {format_bytes(memory)} allocatable " \
              f"({_ratio(need_mem, n * memory):.0%})"
    plain, _ = _fewest(pods, max(bounds.values()), cpu, memory, max_pods, None, spread=False)
    if n > plain:
        with_anti, _ = _fewest(pods, lower, cpu, memory, max_pods, rules, spread=False)
        if with_anti < n:
            spread = sorted(w for w, s in rules.spread.items() if s and any(p.workload == w for p in pods))
            return ("topology-spread", f"topology spread constraints (DoNotSchedule on {HOSTNAME}) of "
                    f"{places(spread)} need {n} nodes; without them {with_anti} would do")
        if clique == n:
            return ("anti-affinity", f"required pod anti-affinity on {HOSTNAME}: {clique_of} needs {clique} "
                    f"nodes, one pod per node; by requests alone {plain} would do")
        return ("anti-affinity", f"required pod anti-affinity on {HOSTNAME} keeps pods apart: {n} nodes "
                f"instead of {plain} by requests alone")
    order = sorted(bounds.items(), key=lambda kv: (-kv[1], list(bounds).index(kv[0])))
    label = order[0][0]
    if order[0][1] < n:  # no single resource sums to n: the pods do not pack tighter
        label = "cpu" if _ratio(need_cpu, cpu) >= _ratio(need_mem, memory) else "memory"
    if label == "pods-per-node":
        return label, f"{len(pods)} pods at most {max_pods} per {node.label} node (after DaemonSets)"
    return label, cpu_use if label == "cpu" else mem_use
