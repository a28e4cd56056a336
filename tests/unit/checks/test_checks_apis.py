"""Self-tests of the API lifecycle check: removed and deprecated apiVersions are findings naming the
replacement; current ones and ones deprecated only after the target release are not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness_refarch.checks.apis import API_LIFECYCLE, ApiVersionError, deprecated_apis, lifecycle_of, target_minor
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding, report
from harness_refarch.model.manifest import Manifest

REPO = Path(__file__).resolve().parents[3]
Build = Callable[..., Manifest]


def _obj(api_version: str, kind: str, name: str = "x", **rest: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **rest}


def _one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, report(findings, "unit test") or "no findings"
    return findings[0]


def test_removed_api_names_the_replacement(manifest: Build) -> None:
    pdb = _obj("policy/v1beta1", "PodDisruptionBudget", "ng-manager",
               spec={"minAvailable": 1, "selector": {"matchLabels": {"app": "ng-manager"}}})
    finding = _one(deprecated_apis(manifest(pdb), "1.29.0"))
    assert finding.check == "api-lifecycle"
    assert finding.workload == "PodDisruptionBudget/ng-manager"
    assert finding.field == "apiVersion"
    assert finding.actual == "policy/v1beta1 (removed in 1.25, use policy/v1)"
    assert finding.expected.startswith("policy/v1 ")
    assert "removed in 1.25, use policy/v1" in str(finding)


@pytest.mark.parametrize(("api_version", "kind", "removed", "replacement"), [
    ("extensions/v1beta1", "Deployment", "1.16", "apps/v1"),
    ("apps/v1beta1", "StatefulSet", "1.16", "apps/v1"),
    ("apps/v1beta2", "DaemonSet", "1.16", "apps/v1"),
    ("extensions/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
    ("policy/v1beta1", "PodSecurityPolicy", "1.25", "Pod Security Admission (no API replacement)"),
    ("batch/v1beta1", "CronJob", "1.25", "batch/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26", "autoscaling/v2"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "1.26", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27", "storage.k8s.io/v1"),
    ("snapshot.storage.k8s.io/v1beta1", "VolumeSnapshotClass", "1.24", "snapshot.storage.k8s.io/v1"),
])
def test_well_known_removals(manifest: Build, api_version: str, kind: str, removed: str, replacement: str) -> None:
    finding = _one(deprecated_apis(manifest(_obj(api_version, kind)), "1.29.0"))
    assert finding.actual == f"{api_version} (removed in {removed}, use {replacement})"


def test_deprecated_but_still_served(manifest: Build) -> None:
    finding = _one(deprecated_apis(manifest(_obj("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema")), "1.29.0"))
    assert finding.actual == ("flowcontrol.apiserver.k8s.io/v1beta3 (deprecated since 1.29, removed in 1.32, "
                              "use flowcontrol.apiserver.k8s.io/v1)")
    assert "not deprecated in Kubernetes 1.29" in finding.expected


def test_deprecated_hpa_before_its_removal(manifest: Build) -> None:
    hpa = _obj("autoscaling/v2beta2", "HorizontalPodAutoscaler", "ng-manager")
    finding = _one(deprecated_apis(manifest(hpa), "1.25.4"))
    assert finding.actual == "autoscaling/v2beta2 (deprecated since 1.23, removed in 1.26, use autoscaling/v2)"


def test_deprecated_without_scheduled_removal(manifest: Build) -> None:
    finding = _one(deprecated_apis(manifest(_obj("v1", "Endpoints")), "1.33.0"))
    assert finding.actual == ("v1 (deprecated since 1.33, no removal scheduled, "
                              "use discovery.k8s.io/v1 EndpointSlice)")


def test_not_yet_deprecated_at_the_target_is_no_finding(manifest: Build) -> None:
    m = manifest(_obj("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"), _obj("v1", "Endpoints"))
    assert deprecated_apis(m, "1.27.0") == []


def test_current_apis_are_no_finding(manifest: Build, k8s: SimpleNamespace) -> None:
    m = manifest(k8s.deployment("app"), k8s.service("app"), k8s.hpa("app", "app"), k8s.pdb("app", {"app": "app"}),
                 _obj("batch/v1", "CronJob"), _obj("networking.k8s.io/v1", "Ingress"),
                 _obj("snapshot.storage.k8s.io/v1", "VolumeSnapshotClass"), _obj("velero.io/v1", "Schedule"))
    assert deprecated_apis(m, "1.37.0") == []


def test_crd_served_api_carries_a_note(manifest: Build) -> None:
    finding = _one(deprecated_apis(manifest(_obj("snapshot.storage.k8s.io/v1beta1", "VolumeSnapshot")), "1.29.0"))
    assert "external-snapshotter" in finding.hint


def test_the_same_api_version_of_another_kind_is_not_confused(manifest: Build) -> None:
    # policy/v1 is current; only the beta version is removed.
    assert deprecated_apis(manifest(_obj("policy/v1", "PodDisruptionBudget")), "1.29.0") == []


@pytest.mark.parametrize("version", ["", "latest", "one.two"])
def test_invalid_target_version_is_a_readable_error(manifest: Build, version: str) -> None:
    with pytest.raises(ApiVersionError) as info:
        deprecated_apis(manifest(_obj("v1", "ConfigMap")), version)
    assert isinstance(info.value, RefarchError)
    assert "--cluster-version" in str(info.value)


def test_target_minor() -> None:
    assert target_minor("1.29.0") == (1, 29)
    assert target_minor("v1.30") == (1, 30)
    assert target_minor("1.27.3-gke.100") == (1, 27)


def test_the_table_is_consistent() -> None:
    keys = [(e.api_version, e.kind) for e in API_LIFECYCLE]
    assert len(keys) == len(set(keys)), "an (apiVersion, kind) is listed twice"
    for entry in API_LIFECYCLE:
        assert entry.removed is None or entry.removed > entry.deprecated, entry
        assert entry.replacement and entry.replacement != entry.api_version, entry
    assert lifecycle_of("policy/v1beta1", "PodDisruptionBudget") is not None
    assert lifecycle_of("policy/v1", "PodDisruptionBudget") is None


# -- the embedded chart -----------------------------------------------------------------------


@pytest.mark.parametrize("kube_version", ["1.27.0", "1.29.0", "1.37.0"])
def test_embedded_chart_uses_no_deprecated_api(renders: list[tuple[str, Manifest]], kube_version: str) -> None:
    assert len(renders) == 19
    problems = [report(found, label) for label, m in renders if (found := deprecated_apis(m, kube_version))]
    assert not problems, "\n".join(problems)
