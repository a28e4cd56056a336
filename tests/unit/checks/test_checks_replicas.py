"""replicas.hpa_bounds, replicas.high_availability, replicas.database_quorum can all fail."""

from __future__ import annotations

import pytest

from harness_refarch.checks import replicas
from harness_refarch.model.catalog import DatabaseExpectation

IN_CLUSTER = {"mongo": DatabaseExpectation("mongo", in_cluster=True),
              "redis": DatabaseExpectation("redis", in_cluster=True)}
EXTERNAL = {"mongo": DatabaseExpectation("mongo", in_cluster=False, hosts=("db.example.com:27017",)),
            "redis": DatabaseExpectation("redis", in_cluster=False, hosts=("cache.example.com:6379",))}


def _only(findings, field_start: str):
    hits = [f for f in findings if f.field.startswith(field_start)]
    assert len(hits) == 1, findings
    return hits[0]


# -- hpa_bounds ------------------------------------------------------------------------------
def test_hpa_bounds_conformant(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager", replicas=None),
                 k8s.hpa("ng-manager", "ng-manager", min_replicas=2, max_replicas=5))
    assert replicas.hpa_bounds(make_pair(), m) == []


def test_hpa_bounds_min_above_max(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager"), k8s.hpa("ng-manager", "ng-manager", min_replicas=5, max_replicas=2))
    [f] = replicas.hpa_bounds(make_pair(), m)
    assert f.check == "replicas"
    assert f.workload == "Deployment/ng-manager"
    assert f.field == "HPA minReplicas <= maxReplicas"
    assert f.expected == "1 <= minReplicas <= maxReplicas"
    assert f.actual == "min 5, max 2"


@pytest.mark.parametrize(("lo", "hi", "actual"), [(0, 3, "min 0, max 3"), (2, None, "min 2, max None")],
                         ids=["min_zero", "max_missing"])
def test_hpa_bounds_invalid_bounds(make_pair, k8s, manifest, lo, hi, actual):
    m = manifest(k8s.deployment("pipeline-service"),
                 k8s.hpa("pipeline-service", "pipeline-service", min_replicas=lo, max_replicas=hi))
    [f] = replicas.hpa_bounds(make_pair(), m)
    assert (f.workload, f.actual) == ("Deployment/pipeline-service", actual)


def test_hpa_bounds_target_missing(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager"), k8s.hpa("ghost-hpa", "ghost", min_replicas=2, max_replicas=3))
    [f] = replicas.hpa_bounds(make_pair(), m)
    assert f.workload == "HorizontalPodAutoscaler/ghost-hpa"
    assert f.field == "spec.scaleTargetRef"
    assert f.expected == "a rendered workload"
    assert f.actual == "Deployment/ghost"
    assert "scales nothing" in f.hint


def test_hpa_bounds_target_kind_must_match(make_pair, k8s, manifest):
    """An HPA naming the right name but the wrong kind scales nothing either."""
    m = manifest(k8s.deployment("ng-manager"),
                 k8s.hpa("ng-manager", "ng-manager", min_replicas=2, max_replicas=3, kind="StatefulSet"))
    [f] = replicas.hpa_bounds(make_pair(), m)
    assert f.actual == "StatefulSet/ng-manager"


# -- high_availability -----------------------------------------------------------------------
def _ha_ok(k8s, name="ng-manager", **deployment):
    """A Deployment with two replicas, anti-affinity over its own pods and a PDB allowing 1."""
    return [k8s.deployment(name, **deployment), k8s.pdb(name, {"app": name}, min_available=1)]


def test_high_availability_conformant(make_pair, k8s, manifest):
    m = manifest(
        *_ha_ok(k8s),
        # replicas come from the HPA when one targets the Deployment
        *_ha_ok(k8s, "pipeline-service", replicas=None),
        k8s.hpa("pipeline-service", "pipeline-service", min_replicas=3, max_replicas=6),
        # stateful workloads are not "stateless services": no PDB/anti-affinity demanded here
        k8s.statefulset("mongodb", replicas=1),
        k8s.deployment("minio", replicas=1, affinity=None,
                       volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "minio"}}]),
    )
    assert replicas.high_availability(make_pair(), m) == []


def test_high_availability_hpa_min_one_without_spec_replicas(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager", replicas=None),
                 k8s.hpa("ng-manager", "ng-manager", min_replicas=1, max_replicas=4),
                 k8s.pdb("ng-manager", {"app": "ng-manager"}, max_unavailable=1))
    [f] = replicas.high_availability(make_pair(), m)
    assert f.workload == "Deployment/ng-manager"
    assert f.field == "effective replicas (hpa)"
    assert f.expected == ">= 2"
    assert f.actual == "1"


def test_high_availability_default_single_replica(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager", replicas=None),
                 k8s.pdb("ng-manager", {"app": "ng-manager"}, max_unavailable=1))
    f = _only(replicas.high_availability(make_pair(), m), "effective replicas")
    assert (f.workload, f.field, f.actual) == ("Deployment/ng-manager", "effective replicas (default)", "1")


def test_high_availability_hpa_wins_over_spec_replicas(make_pair, k8s, manifest):
    """spec.replicas 3 means nothing when the HPA may scale down to 1."""
    m = manifest(k8s.deployment("ng-manager", replicas=3),
                 k8s.hpa("ng-manager", "ng-manager", min_replicas=1, max_replicas=4),
                 k8s.pdb("ng-manager", {"app": "ng-manager"}, max_unavailable=1))
    f = _only(replicas.high_availability(make_pair(), m), "effective replicas")
    assert (f.field, f.actual) == ("effective replicas (hpa)", "1")


def test_high_availability_no_pdb(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager"))
    [f] = replicas.high_availability(make_pair(), m)
    assert f.workload == "Deployment/ng-manager"
    assert f.field == "PodDisruptionBudget"
    assert f.expected == "a PDB selecting its pods"
    assert f.actual == "none"


@pytest.mark.parametrize("selector", [{"app": "other"}, {}], ids=["other_labels", "empty_selector"])
def test_high_availability_pdb_selecting_other_pods(make_pair, k8s, manifest, selector):
    m = manifest(k8s.deployment("ng-manager"), k8s.pdb("ng-manager", selector, min_available=1))
    f = _only(replicas.high_availability(make_pair(), m), "PodDisruptionBudget")
    assert (f.workload, f.actual) == ("Deployment/ng-manager", "none")


@pytest.mark.parametrize(("budget", "count", "allowed"), [
    ({"min_available": "100%"}, 2, 0),
    ({"min_available": "50%"}, 1, 0),
    ({"min_available": 2}, 2, 0),
    ({"max_unavailable": 0}, 2, 0),
    ({"max_unavailable": "0%"}, 3, 0),
], ids=["min_100pct_2_replicas", "min_50pct_1_replica", "min_2_of_2", "max_unavailable_0", "max_0pct"])
def test_high_availability_pdb_allows_no_disruption(make_pair, k8s, manifest, budget, count, allowed):
    m = manifest(k8s.deployment("ng-manager", replicas=count),
                 k8s.pdb("ng-manager-pdb", {"app": "ng-manager"}, **budget))
    findings = replicas.high_availability(make_pair(), m)
    f = _only(findings, "disruptions allowed")
    assert f.workload == "Deployment/ng-manager"
    assert f.field == "disruptions allowed by PDB ng-manager-pdb"
    assert f.expected == ">= 1"
    assert f.actual == f"{allowed} with {count} replica(s)"


@pytest.mark.parametrize(("budget", "count"), [
    ({"min_available": "50%"}, 2),
    ({"min_available": 1}, 2),
    ({"max_unavailable": 1}, 2),
    ({"max_unavailable": "34%"}, 2),  # rounds up to 1, as the disruption controller does
], ids=["min_50pct_2_replicas", "min_1_of_2", "max_unavailable_1", "max_34pct"])
def test_high_availability_pdb_allows_one_disruption(make_pair, k8s, manifest, budget, count):
    m = manifest(k8s.deployment("ng-manager", replicas=count), k8s.pdb("ng-manager", {"app": "ng-manager"}, **budget))
    assert replicas.high_availability(make_pair(), m) == []


def test_high_availability_missing_anti_affinity(make_pair, k8s, manifest):
    m = manifest(*_ha_ok(k8s, affinity=None))
    [f] = replicas.high_availability(make_pair(), m)
    assert f.workload == "Deployment/ng-manager"
    assert f.field == "spec.template.spec.affinity"
    assert f.expected == "pod anti-affinity or topology spread over its own pods"
    assert f.actual == "none"
    assert "one node" in f.hint


def test_high_availability_anti_affinity_selecting_other_pods(make_pair, k8s, manifest):
    """Anti-affinity whose labelSelector does not select the pod's own labels spreads nothing,
    and the message says so (selector and pod labels), not "none"."""
    m = manifest(*_ha_ok(k8s, affinity=k8s.anti_affinity({"app": "pipeline-service"})))
    [f] = replicas.high_availability(make_pair(), m)
    assert (f.workload, f.field) == ("Deployment/ng-manager", "spec.template.spec.affinity")
    assert f.actual == ("pod anti-affinity selector app=pipeline-service does not match the pod labels "
                        "app=ng-manager")


def test_high_availability_anti_affinity_expression_selector_named(make_pair, k8s, manifest):
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1,
                "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {
                    "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                          "values": ["ng-manager"]}]}}}]}}
    m = manifest(*_ha_ok(k8s, affinity=affinity))
    [f] = replicas.high_availability(make_pair(), m)
    assert f.actual == ("pod anti-affinity selector app.kubernetes.io/name In (ng-manager) does not match "
                        "the pod labels app=ng-manager")


def test_high_availability_anti_affinity_without_topology_key(make_pair, k8s, manifest):
    affinity = k8s.anti_affinity({"app": "ng-manager"})
    del affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"]
    m = manifest(*_ha_ok(k8s, affinity=affinity))
    [f] = replicas.high_availability(make_pair(), m)
    assert f.field == "spec.template.spec.affinity"
    assert f.actual == "pod anti-affinity over its own pods without a topologyKey"


def test_high_availability_preferred_anti_affinity_accepted(make_pair, k8s, manifest):
    m = manifest(*_ha_ok(k8s, affinity=k8s.anti_affinity({"app": "ng-manager"}, preferred=True)))
    assert replicas.high_availability(make_pair(), m) == []


def test_high_availability_topology_spread_accepted(make_pair, k8s, manifest):
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["ng-manager"]}]}}]
    m = manifest(*_ha_ok(k8s, affinity=None, spread=spread))
    assert replicas.high_availability(make_pair(), m) == []


def test_high_availability_topology_spread_over_other_pods(make_pair, k8s, manifest):
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": {"matchLabels": {"app": "other"}}}]
    m = manifest(*_ha_ok(k8s, affinity=None, spread=spread))
    [f] = replicas.high_availability(make_pair(), m)
    assert (f.workload, f.field) == ("Deployment/ng-manager", "spec.template.spec.affinity")
    assert f.actual == "topology spread selector app=other does not match the pod labels app=ng-manager"


def test_high_availability_spread_without_selector_named(make_pair, k8s, manifest):
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"}]
    m = manifest(*_ha_ok(k8s, affinity=None, spread=spread))
    [f] = replicas.high_availability(make_pair(), m)
    assert f.actual == "topology spread selector (empty) does not match the pod labels app=ng-manager"


def test_high_availability_reports_each_workload(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager", affinity=None), k8s.deployment("pipeline-service", affinity=None))
    findings = replicas.high_availability(make_pair(), m)
    assert sorted({f.workload for f in findings}) == ["Deployment/ng-manager", "Deployment/pipeline-service"]
    assert len(findings) == 4  # no PDB + no spread, for each


# -- database_quorum -------------------------------------------------------------------------
def _redis(k8s, count=3):
    return k8s.statefulset("redis-node", replicas=count, containers=[
        k8s.container("redis", "docker.io/bitnami/redis:7.2"),
        k8s.container("sentinel", "docker.io/bitnami/redis-sentinel:7.2")])


def test_database_quorum_conformant(make_pair, k8s, manifest):
    m = manifest(k8s.statefulset("mongodb", replicas=3), _redis(k8s))
    assert replicas.database_quorum(make_pair(databases=IN_CLUSTER), m) == []


def test_database_quorum_five_members_ok(make_pair, k8s, manifest):
    m = manifest(k8s.statefulset("mongodb", replicas=5), _redis(k8s, 5))
    assert replicas.database_quorum(make_pair(databases=IN_CLUSTER), m) == []


@pytest.mark.parametrize("members", [1, 2, 4], ids=["one_member", "two_members", "four_members"])
def test_database_quorum_mongo_members(make_pair, k8s, manifest, members):
    m = manifest(k8s.statefulset("mongodb", replicas=members), _redis(k8s))
    [f] = replicas.database_quorum(make_pair(databases=IN_CLUSTER), m)
    assert f.workload == "MongoDB"
    assert f.field == "replica-set members"
    assert f.expected == "an odd number >= 3"
    assert f.actual == f"{members} (StatefulSet/mongodb={members})"


def test_database_quorum_mongo_members_summed_over_statefulsets(make_pair, k8s, manifest):
    m = manifest(k8s.statefulset("mongodb", replicas=3), k8s.statefulset("mongodb-extra", replicas=1),
                 _redis(k8s))
    [f] = replicas.database_quorum(make_pair(databases=IN_CLUSTER), m)
    assert f.actual.startswith("4 (")
    assert "StatefulSet/mongodb=3" in f.actual and "StatefulSet/mongodb-extra=1" in f.actual


def test_database_quorum_no_mongo(make_pair, k8s, manifest):
    m = manifest(_redis(k8s))
    [f] = replicas.database_quorum(make_pair(databases=IN_CLUSTER), m)
    assert (f.workload, f.field, f.expected, f.actual) == (
        "MongoDB", "StatefulSet", "an in-cluster replica set", "none")


def test_database_quorum_single_sentinel(make_pair, k8s, manifest):
    m = manifest(k8s.statefulset("mongodb", replicas=3), _redis(k8s, 1))
    [f] = replicas.database_quorum(make_pair(databases=IN_CLUSTER), m)
    assert f.workload == "Redis"
    assert f.field == "sentinel instances"
    assert f.expected == ">= 3"
    assert f.actual == "1"


def test_database_quorum_redis_without_sentinel(make_pair, k8s, manifest):
    m = manifest(k8s.statefulset("mongodb", replicas=3),
                 k8s.statefulset("redis", replicas=3, image="docker.io/bitnami/redis:7.2"))
    [f] = replicas.database_quorum(make_pair(databases=IN_CLUSTER), m)
    assert (f.workload, f.actual) == ("Redis", "no sentinel container")


def test_database_quorum_skips_external_databases(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager"))
    assert replicas.database_quorum(make_pair(databases=EXTERNAL), m) == []
