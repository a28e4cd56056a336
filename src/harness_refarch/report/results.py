"""What a run produced, for the report: one result per test and the capacity of each pair.

The plugin records results as tests finish; at the end of the session they become a
:class:`~harness_refarch.report.data.ReportData` (matrix, capacity table, node plans).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from harness_refarch.checks.severities import Severities
from harness_refarch.engine.session import RefarchSession
from harness_refarch.helm.binary import known_version
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.quantities import memory_bytes
from harness_refarch.report.capacity import NodeShape, plan
from harness_refarch.report.data import PairResult, ReportData, TestResult
from harness_refarch.report.document import capacity_row
from harness_refarch.report.rootcauses import RootCause


def pair_results(rs: RefarchSession, shapes: Sequence[NodeShape], reserve: float) -> list[PairResult]:
    """Capacity (and node plans) of every selected pair whose render succeeded, catalogue order."""
    out = []
    for pair in rs.selected_pairs or rs.pairs:
        try:
            manifest = rs.cache.get(rs.request(pair))
        except RefarchError:
            continue
        if not manifest.workloads:
            continue
        plans = {shape.label or f"{shape.cpu:g},{shape.memory}": plan(manifest, shape, reserve) for shape in shapes}
        out.append(PairResult(pair.id, pair.profile.name, pair.architecture.name, capacity_row(manifest), plans))
    return out


def report_data(rs: RefarchSession, results: Sequence[TestResult], pairs: Sequence[PairResult],
                causes: Sequence[RootCause] | None = None, severities: Severities | None = None) -> ReportData:
    """The report of a run; ``causes`` are its root causes as the terminal and SARIF show them."""
    chart = rs.chart
    demo = rs.catalog.profiles.get("demo")
    helm = rs.__dict__.get("helm")
    return ReportData(
        chart=str(chart.origin if chart else rs.options.chart), chart_version=chart.version if chart else "",
        chart_name=chart.name if chart else "", chart_dir=str(chart.dir) if chart else "",
        root_causes=causes, severities=severities,
        kube_version=rs.options.kube_version,
        helm_version=(known_version(helm.binary) or "") if helm is not None else "",
        generated_at=datetime.now(UTC), pairs=pairs, results=results,
        minimum_cpu=demo.minimum_cpu if demo else None,
        minimum_memory=memory_bytes(demo.minimum_memory) if demo and demo.minimum_memory else None)


def result(test_id: str, pair_id: str, check: str, workload: str, outcome: str, message: str,
           findings: Sequence[Finding], waiver_reason: str = "") -> TestResult:
    return TestResult(test_id=test_id, pair_id=pair_id, check=check, workload=workload, outcome=outcome,
                      message=message, findings=tuple(findings), waiver_reason=waiver_reason)
