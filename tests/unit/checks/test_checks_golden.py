"""golden.snapshot and golden.compare: every difference is one finding naming workload and field."""

from __future__ import annotations

import pytest
import yaml

from harness_refarch.checks import golden


def _render(k8s, manifest, *, replicas=2, cpu="500m", hpa_max=6, storage="10Gi", extra=(), ng_container=None):
    ng = ng_container or k8s.container("ng-manager", cpu=cpu, memory="1Gi", memory_limit="2Gi")
    return manifest(
        k8s.deployment("ng-manager", replicas=replicas, containers=[ng]),
        k8s.deployment("pipeline-service", replicas=None),
        k8s.hpa("pipeline-service", "pipeline-service", min_replicas=2, max_replicas=hpa_max),
        k8s.statefulset("mongodb", replicas=3, storage=storage, claim="datadir"),
        *extra,
    )


def test_snapshot_records_replicas_hpa_resources_storage(k8s, manifest):
    snap = golden.snapshot(_render(k8s, manifest))
    assert list(snap["workloads"]) == ["Deployment/ng-manager", "Deployment/pipeline-service", "StatefulSet/mongodb"]
    assert snap["workloads"]["Deployment/ng-manager"] == {
        "replicas": 2, "stateful": False, "jvm": False,
        "containers": {"ng-manager": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}},
    }
    assert snap["workloads"]["Deployment/pipeline-service"]["hpa"] == {"min": 2, "max": 6}
    assert snap["workloads"]["Deployment/pipeline-service"]["replicas"] == 2
    assert snap["workloads"]["StatefulSet/mongodb"]["storage"] == {"datadir": "10Gi"}
    assert snap["workloads"]["StatefulSet/mongodb"]["stateful"] is True


def test_compare_identical(k8s, manifest):
    m = _render(k8s, manifest)
    assert golden.compare(golden.snapshot(m), golden.snapshot(m)) == []


def test_compare_survives_yaml_round_trip(k8s, manifest):
    """Golden files are YAML: a recorded snapshot read back compares clean."""
    m = _render(k8s, manifest)
    recorded = yaml.safe_load(yaml.safe_dump(golden.snapshot(m)))
    assert golden.compare(recorded, golden.snapshot(m)) == []


def test_compare_quantities_as_strings(k8s, manifest):
    """cpu: 1 (a YAML int) and cpu: "1" are the same request."""
    a = _render(k8s, manifest, cpu=1)
    b = _render(k8s, manifest, cpu="1")
    assert golden.compare(golden.snapshot(a), golden.snapshot(b)) == []


def test_compare_changed_replicas(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest, replicas=2))
    [f] = golden.compare(expected, golden.snapshot(_render(k8s, manifest, replicas=3)))
    assert f.check == "golden"
    assert f.workload == "Deployment/ng-manager"
    assert f.field == "replicas"
    assert (f.expected, f.actual) == ("2", "3")
    assert "--refarch-update" in f.hint


def test_compare_changed_hpa_bound(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest, hpa_max=6))
    [f] = golden.compare(expected, golden.snapshot(_render(k8s, manifest, hpa_max=4)))
    assert (f.workload, f.field, f.expected, f.actual) == ("Deployment/pipeline-service", "hpa.max", "6", "4")


def test_compare_changed_request(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest, cpu="500m"))
    [f] = golden.compare(expected, golden.snapshot(_render(k8s, manifest, cpu="750m")))
    assert (f.workload, f.field, f.expected, f.actual) == (
        "Deployment/ng-manager", "containers.ng-manager.requests.cpu", "500m", "750m")


def test_compare_removed_request(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest))
    without_cpu = k8s.container("ng-manager", cpu=None, memory="1Gi", memory_limit="2Gi")
    [f] = golden.compare(expected, golden.snapshot(_render(k8s, manifest, ng_container=without_cpu)))
    assert f.workload == "Deployment/ng-manager"
    assert f.field == "containers.ng-manager.requests.cpu"
    assert (f.expected, f.actual) == ("500m", "absent")


def test_compare_added_limit(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest))
    with_cpu_limit = k8s.container("ng-manager", cpu="500m", memory="1Gi", cpu_limit="2", memory_limit="2Gi")
    [f] = golden.compare(expected, golden.snapshot(_render(k8s, manifest, ng_container=with_cpu_limit)))
    assert (f.workload, f.field, f.expected, f.actual) == (
        "Deployment/ng-manager", "containers.ng-manager.limits.cpu", "absent", "2")


def test_compare_changed_storage(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest, storage="10Gi"))
    [f] = golden.compare(expected, golden.snapshot(_render(k8s, manifest, storage="20Gi")))
    assert (f.workload, f.field, f.expected, f.actual) == ("StatefulSet/mongodb", "storage.datadir", "10Gi", "20Gi")


def test_compare_extra_workload(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest))
    actual = golden.snapshot(_render(k8s, manifest, extra=[k8s.deployment("chaos-manager", replicas=1)]))
    [f] = golden.compare(expected, actual)
    assert (f.workload, f.field, f.expected, f.actual) == (
        "Deployment/chaos-manager", "workload", "absent (not in the golden file)", "rendered")


def test_compare_removed_workload(k8s, manifest):
    expected = golden.snapshot(_render(k8s, manifest, extra=[k8s.deployment("chaos-manager", replicas=1)]))
    [f] = golden.compare(expected, golden.snapshot(_render(k8s, manifest)))
    assert (f.workload, f.field, f.actual) == ("Deployment/chaos-manager", "workload", "not in the render")


def test_compare_whole_values_are_never_cut(k8s, manifest):
    containers = [k8s.container(f"sidecar-{i}", cpu="100m", memory="128Mi", memory_limit="256Mi") for i in range(8)]
    before = golden.snapshot(_render(k8s, manifest, extra=[k8s.deployment("chaos-manager", replicas=1)]))
    after = golden.snapshot(_render(k8s, manifest, extra=[k8s.deployment("chaos-manager", containers=containers)]))
    found = golden.compare(before, after)
    added = [f for f in found if f.field.startswith("containers.sidecar-7")]
    assert added and not any(f.actual.endswith("...") for f in found)
    assert "256Mi" in added[0].actual


def test_every_workload_changing_still_names_every_workload(k8s, manifest):
    """A change to every workload at once is one finding per workload and field, never one
    finding about the whole 'workloads' mapping."""
    before = golden.snapshot(_render(k8s, manifest, cpu="500m", storage="10Gi"))
    after = golden.snapshot(_render(k8s, manifest, cpu="750m", storage="20Gi"))
    found = golden.compare(before, after)
    assert {f.workload for f in found} == {"Deployment/ng-manager", "StatefulSet/mongodb"}
    assert all(f.field != "(whole workload)" and f.workload != "golden file" for f in found)


def test_learned_random_names_match_a_golden_file_recorded_before(k8s, manifest):
    """A letters-only random suffix escapes the name-shape rule; what a second render of the
    same inputs showed to be random is normalised on both sides."""
    from harness_refarch.identity import learn_volatile

    def job(name):  # a Deployment: a Job is identified without its last name segment anyway
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                "spec": {"template": {"spec": {"containers": [k8s.container("m")]}}}}

    recorded = golden.snapshot(manifest(job("migrate-abcde")))
    vol = learn_volatile(manifest(job("migrate-qwxyz")), manifest(job("migrate-plmok")))
    later = manifest(job("migrate-zzzzz"))
    assert golden.compare(recorded, golden.snapshot(later)) != []  # by shape alone: different names
    assert golden.compare(recorded, golden.snapshot(later, vol), vol) == []


def test_malformed_golden_file_is_reported_and_re_recordable(tmp_path):
    from harness_refarch.errors import RefarchError

    path = tmp_path / "large" / "x.yaml"
    path.parent.mkdir()
    path.write_text("workloads:\n  Deployment/a: {replicas: 2\n")  # truncated
    with pytest.raises(RefarchError, match=r"truncated or malformed.*--refarch-update"):
        golden.load(path)
