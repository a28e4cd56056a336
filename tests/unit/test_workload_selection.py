"""Per-workload tests own their workload's findings; '(unrecorded)' owns the rest."""

from harness_refarch.checks.golden import WORKLOAD_FILTERS
from harness_refarch.findings import Finding
from harness_refarch.plugin import UNRECORDED, select_workload

FINDINGS = [
    Finding("resources", "Deployment/ng-manager container ng-manager", "f", "e", "a"),
    Finding("resources", "Deployment/ng-manager-extra container x", "f", "e", "a"),
    Finding("replicas", "Deployment/gateway", "f", "e", "a"),
]
RECORDED = ["Deployment/gateway", "Deployment/ng-manager"]


def test_a_workload_owns_its_own_findings_only() -> None:
    mine = select_workload(FINDINGS, "Deployment/ng-manager", RECORDED)
    assert [f.workload for f in mine] == ["Deployment/ng-manager container ng-manager"]


def test_unrecorded_owns_findings_about_workloads_not_in_the_golden_file() -> None:
    rest = select_workload(FINDINGS, UNRECORDED, RECORDED)
    assert [f.workload for f in rest] == ["Deployment/ng-manager-extra container x"]


def test_workload_filters_pick_stateless_and_jvm_entries() -> None:
    stateless = {"replicas": 2, "stateful": False, "jvm": True}
    database = {"replicas": 3, "stateful": True, "jvm": False}
    assert WORKLOAD_FILTERS["stateless"](stateless) and not WORKLOAD_FILTERS["stateless"](database)
    assert WORKLOAD_FILTERS["jvm"](stateless) and not WORKLOAD_FILTERS["jvm"](database)
    assert WORKLOAD_FILTERS["all"](database)
