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
    from harness_refarch.model.identity import learn_volatile

    def job(name):  # a Deployment: a Job is identified without its last name segment anyway
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                "spec": {"template": {"spec": {"containers": [k8s.container("m")]}}}}

    recorded = golden.snapshot(manifest(job("migrate-abcde")))
    vol = learn_volatile(manifest(job("migrate-qwxyz")), manifest(job("migrate-plmok")))
    later = manifest(job("migrate-zzzzz"))
    assert golden.compare(recorded, golden.snapshot(later)) != []  # by shape alone: different names
    assert golden.compare(recorded, golden.snapshot(later, vol), vol) == []


def test_malformed_golden_file_is_reported_and_re_recordable(tmp_path):
    from harness_refarch.model.errors import RefarchError

    path = tmp_path / "large" / "x.yaml"
    path.parent.mkdir()
    path.write_text("workloads:\n  Deployment/a: {replicas: 2\n")  # truncated
    with pytest.raises(RefarchError, match=r"truncated or malformed.*--refarch-update"):
        golden.load(path)


# -- golden files know their chart (issue 13, item 7) -------------------------------------------
EMBEDDED = golden.ChartStamp("harness-prod", "0.1.0", "sha256:aaa")
RELEASED = golden.ChartStamp("harness", "0.10.0-qa", "sha256:bbb")


def _doc(chart, workloads=None):
    doc = {"workloads": workloads if workloads is not None else {"Deployment/ng-manager": {"replicas": 2}}}
    if chart is not None:
        doc["chart"] = chart.as_dict()
    return doc


def test_another_charts_golden_file_is_one_finding_and_one_line_per_workload(tmp_path):
    path = tmp_path / "golden/large/prod-3-incluster.yaml"
    doc = _doc(EMBEDDED)
    [f] = golden.file_findings(path, doc, RELEASED)
    assert (f.workload, f.field) == ("golden file", str(path))
    assert "harness 0.10.0-qa" in f.expected and "another chart (harness-prod 0.1.0)" in f.actual
    assert "--refarch-update" in f.hint and "--refarch-fixtures" in f.hint
    line = golden.chart_problem(path, doc, RELEASED, "large-prod-3-incluster")
    assert "\n" not in line and "another chart (harness-prod 0.1.0, this run renders harness 0.10.0-qa)" in line
    assert line.endswith("see test_golden_workloads[large-prod-3-incluster]")
    # a new version of the same chart is another chart too
    bumped = golden.ChartStamp("harness-prod", "0.2.0")
    assert golden.chart_problem(path, doc, bumped, "p") and len(golden.file_findings(path, doc, bumped)) == 1


def test_same_chart_with_changed_content_is_compared_and_says_so(tmp_path):
    path = tmp_path / "x.yaml"
    doc = _doc(EMBEDDED)
    changed = golden.ChartStamp("harness-prod", "0.1.0", "sha256:ccc")
    assert golden.file_findings(path, doc, changed) == [] and golden.chart_problem(path, doc, changed, "p") == ""
    assert "content changed since the file was recorded" in golden.hint(path, doc, changed)
    assert golden.hint(path, doc, EMBEDDED) == golden.HINT


def test_missing_golden_file_fails_every_workload_test_with_one_line(tmp_path):
    path = tmp_path / "none.yaml"
    assert golden.chart_problem(path, None, EMBEDDED, "demo-demo") == (
        f"no golden file {path}: the render is not compared to recorded expectations; "
        "see test_golden_workloads[demo-demo]")
    [f] = golden.file_findings(path, None, EMBEDDED)
    assert f.actual == "no file"


def test_headerless_golden_file_is_read_compared_and_asks_for_the_header(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("# written before the header existed\nworkloads:\n  Deployment/ng-manager: {replicas: 2}\n")
    doc = golden.load(path)
    assert doc is not None and golden.stamp(doc, path) is None
    assert golden.chart_problem(path, doc, RELEASED, "p") == ""  # still compared
    [f] = golden.file_findings(path, doc, RELEASED)
    assert "written by an older harness-refarch" in f.actual and "--refarch-update" in f.hint


def test_malformed_chart_header_names_the_file(tmp_path):
    from harness_refarch.model.errors import RefarchError

    path = tmp_path / "bad.yaml"
    path.write_text("chart: harness\nworkloads: {}\n")
    with pytest.raises(RefarchError, match=r"bad.yaml has a malformed 'chart' header.*--refarch-update"):
        golden.load(path)


def test_record_writes_the_chart_and_reports_a_change_of_chart(tmp_path, make_pair):
    path = tmp_path / "large" / "x.yaml"
    pair = make_pair(profile="large")
    snap = {"workloads": {"Deployment/ng-manager": {"replicas": 2}}}
    assert golden.record(path, pair, snap, EMBEDDED) == "created"
    doc = yaml.safe_load(path.read_text())
    assert doc["chart"] == {"name": "harness-prod", "version": "0.1.0", "digest": "sha256:aaa"}
    assert "recorded on chart harness-prod 0.1.0" in path.read_text().splitlines()[0]
    assert golden.record(path, pair, snap, EMBEDDED) == "unchanged"
    assert golden.record(path, pair, snap, RELEASED) == (
        "updated (was recorded on harness-prod 0.1.0, now harness 0.10.0-qa)")
    path.write_text(yaml.safe_dump(snap))  # a file from before the header
    assert golden.record(path, pair, snap, EMBEDDED) == "updated (chart header added: harness-prod 0.1.0)"


def test_a_workload_the_golden_file_lacks_fails_its_own_test(k8s, manifest):
    """A workload with a letters-only random suffix (not a Job: Jobs are identified by role): its
    golden key (learned from two renders) is not its test id (name shape). Selecting the pair's
    findings by test id lost the finding, so
    the per-workload test passed for a workload the golden file does not contain."""
    from harness_refarch.model.identity import learn_volatile
    from harness_refarch.plugin.hooks import select_workload

    def job(name):
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                "spec": {"selector": {"matchLabels": {"app": "m"}},
                         "template": {"metadata": {"labels": {"app": "m"}},
                                      "spec": {"containers": [k8s.container("m")]}}}}

    vol = learn_volatile(manifest(job("migrate-qwxyz")), manifest(job("migrate-plmok")))
    recorded = golden.snapshot(_render(k8s, manifest), vol)  # no Job recorded
    render = _render(k8s, manifest, extra=[job("migrate-zzzzz")])
    test_id = golden.identity("Deployment/migrate-zzzzz")
    assert test_id == "Deployment/migrate-zzzzz" and vol.normalise(test_id) == "Deployment/migrate-*"
    snap = golden.snapshot(render, vol)
    # the pair-level comparison does report it, under its golden key, which the test id does not select
    assert select_workload(golden.compare(recorded, snap, vol), test_id, render) == []
    [f] = golden.compare_one(test_id, ["Deployment/migrate-zzzzz"], recorded, snap, vol)
    assert (f.workload, f.field, f.expected) == (test_id, "workload", "recorded in the golden file")
    assert f.actual == "not in the golden file (as Deployment/migrate-*)"
    # and a workload that is recorded and unchanged passes
    assert golden.compare_one("Deployment/ng-manager", ["Deployment/ng-manager"], recorded, snap, vol) == []
