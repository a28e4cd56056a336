"""Per-workload tests own their workload's findings, identified by normalised identity."""

from harness_refarch.engine.session import WORKLOAD_FILTERS
from harness_refarch.model.findings import Finding
from harness_refarch.plugin.hooks import select_workload

FINDINGS = [
    Finding("resources", "Deployment/ng-manager container ng-manager", "f", "e", "a"),
    Finding("resources", "Deployment/ng-manager-extra container x", "f", "e", "a"),
    Finding("replicas", "Deployment/gateway", "f", "e", "a"),
    Finding("resources", "Job/migrate-x7k2p container m", "f", "e", "a"),
]


def test_a_workload_owns_its_own_findings_only(manifest, k8s) -> None:
    rendered = manifest(k8s.deployment("ng-manager"), k8s.deployment("ng-manager-extra"))
    mine = select_workload(FINDINGS, "Deployment/ng-manager", rendered)
    assert [f.workload for f in mine] == ["Deployment/ng-manager container ng-manager"]


def test_a_workload_with_a_random_name_is_found_by_its_identity(manifest, k8s) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate-x7k2p"},
           "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "x:1"}]}}}}
    rendered = manifest(job)
    mine = select_workload(FINDINGS, "Job/migrate-*", rendered)
    assert [f.workload for f in mine] == ["Job/migrate-x7k2p container m"]


def test_workload_filters_pick_stateless_and_jvm_workloads(manifest, k8s) -> None:
    jvm = k8s.deployment("api", containers=[k8s.container(env=[{"name": "MEMORY", "value": "512m"}])])
    rendered = manifest(jvm, k8s.statefulset("db"))
    api, db = rendered.workloads["Deployment/api"], rendered.workloads["StatefulSet/db"]
    assert WORKLOAD_FILTERS["stateless"](api) and not WORKLOAD_FILTERS["stateless"](db)
    assert WORKLOAD_FILTERS["jvm"](api) and not WORKLOAD_FILTERS["jvm"](db)
    assert WORKLOAD_FILTERS["all"](db)
