"""Capacity planning: hand-made renders whose node count is known, and the embedded large profile."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness_refarch.helm.binary import Helm, find_helm
from harness_refarch.model.manifest import Manifest, parse_manifest
from harness_refarch.model.quantities import memory_bytes
from harness_refarch.report.capacity import NodePlan, NodeShape, NodeShapeError, plan
from harness_refarch.report.document import capacity_row

ROOT = Path(__file__).resolve().parents[2]
GiB = 2**30


def pod_template(app: str, cpu: str, memory: str, *, init_cpu: str | None = None,
                 affinity: dict[str, Any] | None = None,
                 spread: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": app, "image": f"x/{app}:1",
                                            "resources": {"requests": {"cpu": cpu, "memory": memory},
                                                          "limits": {"memory": memory}}}]}
    if init_cpu is not None:
        spec["initContainers"] = [{"name": "init", "image": "x/init:1",
                                   "resources": {"requests": {"cpu": init_cpu, "memory": memory}}}]
    if affinity is not None:
        spec["affinity"] = affinity
    if spread is not None:
        spec["topologySpreadConstraints"] = spread
    return {"metadata": {"labels": {"app": app}}, "spec": spec}


def workload(app: str, replicas: int = 1, cpu: str = "100m", memory: str = "128Mi", kind: str = "Deployment",
             **kwargs: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": app}},
                            "template": pod_template(app, cpu, memory, **kwargs)}
    if kind in ("Deployment", "StatefulSet"):
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1" if kind != "Job" else "batch/v1", "kind": kind,
            "metadata": {"name": app}, "spec": spec}


def anti_affinity(*apps: str, key: str = "kubernetes.io/hostname", required: bool = True) -> dict[str, Any]:
    term = {"topologyKey": key, "labelSelector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": list(apps)}]}}
    if required:
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": term}]}}


def spread(app: str, max_skew: int = 1, when: str = "DoNotSchedule") -> list[dict[str, Any]]:
    return [{"maxSkew": max_skew, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": {"app": app}}}]


def manifest(*docs: dict[str, Any]) -> Manifest:
    return parse_manifest(yaml.safe_dump_all(docs), "harness", "unit")


def check_plan(p: NodePlan, m: Manifest) -> None:
    """Invariants of every plan: every pod placed once, no node over its allocatable."""
    names = [name for u in p.usage for name in u.pods]
    assert p.pods == len(names)
    for u in p.usage:
        assert u.cpu <= p.allocatable_cpu + 1e-9
        assert u.memory <= p.allocatable_memory
        assert len(u.pods) <= p.shape.max_pods
    placed = {n for n in names if not n.startswith("DaemonSet/")}
    assert len(placed) == len([n for n in names if not n.startswith("DaemonSet/")])  # no pod twice
    unplaced = {f.workload for f in p.unschedulable}
    for key, w in m.workloads.items():
        if w.kind == "DaemonSet" or key in unplaced:
            continue
        want = 1 if w.kind in ("Job", "CronJob") else (w.replicas or 0)
        assert sum(1 for n in placed if n.rsplit("#", 1)[0] == key) == want, key


# -- NodeShape -------------------------------------------------------------------------------

def test_node_shape_parses_cores_and_memory() -> None:
    shape = NodeShape.parse("8,32Gi")
    assert (shape.cpu, shape.memory, shape.max_pods, shape.label) == (8.0, 32 * GiB, 110, "8,32Gi")
    shape = NodeShape.parse(" 7500m , 30G , 50 ")
    assert (shape.cpu, shape.memory, shape.max_pods, shape.label) == (7.5, 30 * 10**9, 50, "7500m,30G,50")


@pytest.mark.parametrize(("text", "words"), [
    ("8", "not of the form CPU,MEMORY"),
    ("8,32Gi,110,9", "not of the form CPU,MEMORY"),
    ("eight,32Gi", "CPU 'eight' is not a number of cores"),
    ("8,lots", "memory 'lots' is not a Kubernetes quantity"),
    ("0,32Gi", "more than 0 cores"),
    ("8,32", "did you mean 32Gi?"),
    ("8,-1Gi", "memory '-1Gi' must be more than 0"),  # not "did you mean -1GiGi?"
    ("8,0", "memory '0' must be more than 0"),
    ("8,32Gi,-1", "pod limit '-1'"),
    ("8,,", "not of the form"),
])
def test_node_shape_errors_are_readable(text: str, words: str) -> None:
    with pytest.raises(NodeShapeError) as info:
        NodeShape.parse(text)
    message = str(info.value)
    assert words in message
    assert repr(text.strip()) in message
    assert "--refarch-node-shape 8,32Gi" in message  # how to fix it


def test_reserve_must_be_a_fraction() -> None:
    m = manifest(workload("a"))
    for bad in (-0.1, 1.0, 10):
        with pytest.raises(NodeShapeError, match="not a fraction"):
            plan(m, NodeShape.parse("4,16Gi"), reserve=bad)


# -- resources and reserve --------------------------------------------------------------------

def test_cpu_bound_first_fit_decreasing() -> None:
    m = manifest(workload("a", replicas=10, cpu="1", memory="1Gi"))
    p = plan(m, NodeShape.parse("4,16Gi"), reserve=0)
    assert p.nodes == 3  # 10 cores on 4-core nodes
    assert p.binding == "cpu"
    assert "10 cores CPU requested of 3 x 4 cores" in p.binding_detail
    check_plan(p, m)


def test_memory_bound() -> None:
    m = manifest(workload("a", replicas=5, cpu="100m", memory="8Gi"))
    p = plan(m, NodeShape.parse("16,16Gi"), reserve=0)
    assert (p.nodes, p.binding) == (3, "memory")
    check_plan(p, m)
    # 9Gi pods do not pair up: one per node, still memory-bound (the sum alone would say 3)
    m = manifest(workload("a", replicas=5, cpu="100m", memory="9Gi"))
    apart = plan(m, NodeShape.parse("16,16Gi"), reserve=0)
    assert (apart.nodes, apart.binding) == (5, "memory")


def test_reserve_is_left_free() -> None:
    m = manifest(workload("a", replicas=4, cpu="1", memory="1Gi"))
    assert plan(m, NodeShape.parse("4,16Gi"), reserve=0).nodes == 1
    with_reserve = plan(m, NodeShape.parse("4,16Gi"), reserve=0.10)  # 3.6 cores left: 3 pods a node
    assert with_reserve.nodes == 2
    assert with_reserve.allocatable_cpu == pytest.approx(3.6)
    assert with_reserve.allocatable_memory == int(16 * GiB * 0.9)
    assert max(u.cpu for u in with_reserve.usage) <= 3.6
    check_plan(with_reserve, m)
    # memory reserve too: 4 x 4Gi do not fit 16Gi minus 25%
    m = manifest(workload("b", replicas=4, cpu="100m", memory="4Gi"))
    assert plan(m, NodeShape.parse("64,16Gi"), reserve=0).nodes == 1
    assert plan(m, NodeShape.parse("64,16Gi"), reserve=0.25).nodes == 2


def test_largest_pods_go_first() -> None:
    # In arrival order first-fit needs 3 nodes (2+2 | 3 | 3); largest first packs 3+2 | 3+2.
    m = manifest(workload("small", replicas=2, cpu="2", memory="1Gi"),
                 workload("big", replicas=2, cpu="3", memory="1Gi"))
    p = plan(m, NodeShape.parse("5,16Gi"), reserve=0)
    assert p.nodes == 2
    assert all(sorted(n.split("#")[0] for n in u.pods) == ["Deployment/big", "Deployment/small"] for u in p.usage)


def test_init_containers_count_as_kubernetes_counts_them() -> None:
    # The effective request is max(app containers, largest init container): 4 cores, not 1.
    m = manifest(workload("a", replicas=2, cpu="1", memory="1Gi", init_cpu="4"))
    p = plan(m, NodeShape.parse("4,16Gi"), reserve=0)
    assert p.nodes == 2
    assert all(u.cpu == pytest.approx(4) for u in p.usage)


def test_pod_too_big_is_a_finding_not_dropped() -> None:
    m = manifest(workload("huge", replicas=2, cpu="10", memory="1Gi"), workload("ok", replicas=2, cpu="1"))
    p = plan(m, NodeShape.parse("8,32Gi"))
    assert len(p.unschedulable) == 1
    f = p.unschedulable[0]
    assert f.workload == "Deployment/huge"
    assert "fits one 8,32Gi node" in f.expected and "7.2 cores" in f.expected
    assert "10 cores" in f.actual and "2 pods left unplaced" in f.actual
    assert f.hint
    assert p.nodes == 1 and p.pods == 2  # the others are still planned
    check_plan(p, m)


def test_pod_that_fits_only_without_the_reserve() -> None:
    m = manifest(workload("a", cpu="7500m", memory="1Gi"))
    assert plan(m, NodeShape.parse("8,32Gi"), reserve=0).unschedulable == ()
    assert [f.workload for f in plan(m, NodeShape.parse("8,32Gi")).unschedulable] == ["Deployment/a"]


# -- anti-affinity ------------------------------------------------------------------------------

def test_required_anti_affinity_forces_one_pod_per_node() -> None:
    m = manifest(workload("db", replicas=5, affinity=anti_affinity("db")))
    p = plan(m, NodeShape.parse("64,256Gi"))
    assert p.nodes == 5
    assert p.binding == "anti-affinity"
    assert "Deployment/db needs 5 nodes" in p.binding_detail
    assert all(len(u.pods) == 1 for u in p.usage)
    check_plan(p, m)


def test_preferred_or_zone_anti_affinity_does_not_block() -> None:
    for affinity in (anti_affinity("db", required=False), anti_affinity("db", key="topology.kubernetes.io/zone")):
        m = manifest(workload("db", replicas=5, affinity=affinity))
        p = plan(m, NodeShape.parse("64,256Gi"))
        assert (p.nodes, p.binding) == (1, "cpu")


def test_anti_affinity_against_other_workloads_applies_both_ways() -> None:
    # "a" repels itself and "b"; "b" has no rule but may not join a node holding an "a" pod.
    m = manifest(workload("a", replicas=3, affinity=anti_affinity("a", "b")), workload("b", replicas=2))
    p = plan(m, NodeShape.parse("64,256Gi"))
    assert p.nodes == 4
    for u in p.usage:
        apps = [n.split("#")[0] for n in u.pods]
        assert apps.count("Deployment/a") <= 1
        assert not ("Deployment/a" in apps and "Deployment/b" in apps)
    check_plan(p, m)


# -- topology spread ------------------------------------------------------------------------------

def test_spread_constraint_adds_a_node() -> None:
    # 7 cores on 4-core nodes: 2 nodes by requests; maxSkew 1 over the 4 spread pods needs a third.
    big = workload("big", cpu="3", memory="1Gi")
    m = manifest(big, workload("s", replicas=4, cpu="1", memory="1Gi", spread=spread("s")))
    p = plan(m, NodeShape.parse("4,16Gi"), reserve=0)
    assert p.nodes == 3
    assert p.binding == "topology-spread"
    assert "Deployment/s" in p.binding_detail
    counts = [sum(1 for n in u.pods if n.startswith("Deployment/s#")) for u in p.usage]
    assert max(counts) - min(counts) <= 1
    check_plan(p, m)
    soft = manifest(big, workload("s", replicas=4, cpu="1", memory="1Gi", spread=spread("s", when="ScheduleAnyway")))
    assert plan(soft, NodeShape.parse("4,16Gi"), reserve=0).nodes == 2
    loose = manifest(big, workload("s", replicas=4, cpu="1", memory="1Gi", spread=spread("s", max_skew=2)))
    assert plan(loose, NodeShape.parse("4,16Gi"), reserve=0).nodes == 2


def test_spread_alone_fits_one_node() -> None:
    # A single node satisfies any hostname spread: the constraint never adds nodes by itself.
    m = manifest(workload("s", replicas=6, spread=spread("s")))
    assert plan(m, NodeShape.parse("8,32Gi")).nodes == 1


# -- DaemonSets, Jobs, pod limit ------------------------------------------------------------------

def test_daemonsets_run_on_every_node_and_jobs_count_once() -> None:
    m = manifest(workload("agent", kind="DaemonSet", cpu="1", memory="1Gi"),
                 workload("a", replicas=3, cpu="1500m", memory="1Gi"),
                 workload("migrate", kind="Job", cpu="500m", memory="1Gi"))
    p = plan(m, NodeShape.parse("4,16Gi"), reserve=0)
    # 3 cores left per node: two 1.5-core pods on one node, the third plus the Job on another
    assert p.nodes == 2
    assert all("DaemonSet/agent#0" in u.pods for u in p.usage)
    assert p.pods == 2 + 3 + 1
    check_plan(p, m)
    assert capacity_row(m).pods == 5  # the report's row: the DaemonSet and the Job count one each


def test_pods_per_node_limit() -> None:
    m = manifest(workload("tiny", replicas=5, cpu="10m", memory="16Mi"))
    p = plan(m, NodeShape.parse("8,32Gi,2"))
    assert (p.nodes, p.binding) == (3, "pods-per-node")


def test_nothing_to_place() -> None:
    p = plan(manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}), NodeShape.parse("8,32Gi"))
    assert (p.nodes, p.pods, p.binding, p.usage) == (0, 0, "none", ())


def test_plan_is_pure_and_deterministic() -> None:
    m = manifest(workload("a", replicas=7, cpu="700m", memory="3Gi", affinity=anti_affinity("a")),
                 workload("b", replicas=9, cpu="1300m", memory="1Gi", spread=spread("b")))
    first = plan(m, NodeShape.parse("4,16Gi"))
    assert plan(m, NodeShape.parse("4,16Gi")) == first
    check_plan(first, m)


# -- the embedded chart ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def large() -> Manifest:
    helm = Helm(find_helm())
    text = helm.run(["template", "harness", str(ROOT / "charts/harness-prod"),
                     "-f", str(ROOT / "fixtures/overlays/ci-cd.yaml"),
                     "-f", str(ROOT / "fixtures/overlays/prod-3-incluster.yaml"),
                     "-f", str(ROOT / "charts/harness-prod/override-large.yaml")])
    return parse_manifest(text, "harness", "large-prod-3-incluster")


def test_embedded_large_profile_on_8_cores_32gi(large: Manifest) -> None:
    row = capacity_row(large)
    p = plan(large, NodeShape.parse("8,32Gi"))  # its time is measured in tests/benchmarks/test_bench.py
    by_cpu = math.ceil(row.cpu_requested / 7.2)
    by_memory = math.ceil(row.memory_requested / (0.9 * memory_bytes("32Gi")))
    assert max(by_cpu, by_memory) <= p.nodes <= max(by_cpu, by_memory) + 3
    assert p.unschedulable == ()
    assert p.pods == row.pods
    assert p.binding in ("cpu", "memory")
    check_plan(p, large)
    # a shape too small for the MongoDB members reports them instead of dropping them
    small = plan(large, NodeShape.parse("4,16Gi"))
    assert any("mongo" in f.workload for f in small.unschedulable)
    assert small.pods + sum(int(f.actual.split("(")[1].split()[0]) if "pods left" in f.actual else 1
                            for f in small.unschedulable) == row.pods
