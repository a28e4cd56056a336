"""What a report is made of: one result per test, the capacity of each pair, and the run's
root causes. Plain data, built by report.results and shown by report.document and report.triage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness_refarch.checks.severities import Severities
from harness_refarch.model.findings import Finding
from harness_refarch.report.capacity import NodePlan
from harness_refarch.report.rootcauses import RootCause

OUTCOMES = ("pass", "fail", "waived", "skipped", "error")
DEMO_MINIMUM_CPU = 3.0
DEMO_MINIMUM_MEMORY = 14 * 2**30


@dataclass(frozen=True)
class CapacityRow:
    """What one render asks of a cluster: pods, replicas, requests, limits, PVC storage.

    ``cpu_limited``/``memory_limited`` sum the limits that are set; ``*_unlimited`` counts the
    pods with at least one container without that limit (such pods have no upper bound).
    """

    workloads: int
    pods: int  # effective replicas, plus one pod per DaemonSet, Job and CronJob
    replicas: int  # effective replicas of Deployments, StatefulSets and ReplicaSets
    cpu_requested: float  # cores
    cpu_limited: float
    memory_requested: int  # bytes
    memory_limited: int
    storage: int  # bytes of PVCs and volumeClaimTemplates (x replicas)
    cpu_unlimited: int = 0
    memory_unlimited: int = 0


@dataclass(frozen=True)
class PairResult:
    """One (profile, architecture) pair: its capacity and a node plan per node shape label."""

    pair_id: str
    profile: str
    architecture: str
    capacity: CapacityRow
    plan: Mapping[str, NodePlan] = field(default_factory=dict)


@dataclass(frozen=True)
class TestResult:
    """One pytest test as the report shows it; ``message`` is already masked by the caller."""

    __test__ = False  # not a pytest test class, despite the name

    test_id: str
    pair_id: str
    check: str
    workload: str = ""
    outcome: str = "pass"  # one of OUTCOMES
    message: str = ""
    findings: Sequence[Finding] = ()
    waiver_reason: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} of {self.test_id} is not one of {', '.join(OUTCOMES)}")


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows; the documented minimum defaults to the demo profile's."""

    chart: str
    chart_version: str
    kube_version: str
    helm_version: str
    generated_at: datetime | str
    pairs: Sequence[PairResult] = ()
    results: Sequence[TestResult] = ()
    minimum_cpu: float | None = DEMO_MINIMUM_CPU
    minimum_memory: int | None = DEMO_MINIMUM_MEMORY
    minimum_label: str = "documented demo minimum (CI + CD)"
    minimum_profile: str = "demo"  # the profile the minimum is documented for: its bars are judged
    run: Mapping[str, Any] | None = None  # JSON only: what `harness-refarch merge` needs (shard, identity, order)
    chart_name: str = ""  # Chart.yaml's name: the title (``chart`` is where the chart was read from)
    chart_dir: str = ""  # the chart's local directory: shown relative in HTML and Markdown
    # The run's root causes (rootcauses.build, as the terminal and SARIF show them); None: derived
    # from ``results``. ``severities`` gives their rules' help texts.
    root_causes: Sequence[RootCause] | None = None
    severities: Severities | None = None


# -- capacity ----------------------------------------------------------------------------------
