"""The pure comparison behind `harness-refarch diff`: changes, upgrade blockers, regressions.

Each behaviour gets a hand-written OLD and a NEW that differ in exactly one way, so a finding
(or its absence) can only come from the rule under test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from harness_refarch.diff.compare import (
    ABSENT,
    BACKUP,
    WIRING,
    WORKLOADS,
    Change,
    diff_pair,
    regressions,
    show,
    upgrade_blockers,
)
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest, parse_manifest

NS = "harness"


def parse(*docs: dict[str, Any]) -> Manifest:
    return parse_manifest(yaml.safe_dump_all(docs, sort_keys=False), NS)


def container(name: str = "app", image: str = "harness/app:1.0.0", cpu: str = "500m", memory: str = "1Gi",
              env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": image,
                           "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}}
    if env is not None:
        out["env"] = env
    return out


def deployment(name: str = "ng-manager", replicas: int = 2, labels: dict[str, str] | None = None,
               containers: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": containers or [container(name)]}}, **spec}}


def vct(name: str = "datadir", size: str = "20Gi", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}}


def statefulset(name: str = "mongodb", claims: list[dict[str, Any]] | None = None,
                labels: dict[str, str] | None = None, image: str = "mongo:6.0", **spec: Any) -> dict[str, Any]:
    labels = labels or {"app": "mongodb"}
    body: dict[str, Any] = {
        "serviceName": name, "replicas": 3, "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container("mongodb", image)]}},
        "volumeClaimTemplates": [vct()] if claims is None else claims}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": NS},
            "spec": body}


def hpa(target: str, low: int, high: int) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": target, "namespace": NS},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "minReplicas": low, "maxReplicas": high}}


def service(name: str = "mongodb", cluster_ip: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"app": "mongodb"}, "ports": [{"port": 27017}]}
    if cluster_ip is not None:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def pvc(name: str = "minio", size: str = "10Gi", keep: bool = False, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if keep:
        meta["annotations"] = {"helm.sh/resource-policy": "keep"}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}}


def job(name: str = "migrate", image: str = "harness/migrate:1", hook: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if hook:
        meta["annotations"] = {"helm.sh/hook": "pre-upgrade"}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container("migrate", image)]}}}}


def schedule(name: str = "harness-daily", cron: str = "0 2 * * *", ttl: str = "720h0m0s") -> dict[str, Any]:
    return {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": name, "namespace": "velero"},
            "spec": {"schedule": cron, "template": {"includedNamespaces": [NS], "ttl": ttl}}}


def snapshot_class(name: str = "csi-snapclass") -> dict[str, Any]:
    return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": name, "labels": {"velero.io/csi-volumesnapshot-class": "true"}},
            "driver": "ebs.csi.aws.com", "deletionPolicy": "Retain"}


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": data}


def text_of(changes: list[Change] | tuple[Change, ...] | list[Finding]) -> str:
    return "\n".join(str(c) for c in changes)


# -- diff_pair -------------------------------------------------------------------------------------
def test_identical_renders_have_no_changes() -> None:
    docs = [deployment(), hpa("ng-manager", 2, 4), statefulset(), schedule(), snapshot_class()]
    assert diff_pair(parse(*docs), parse(*copy.deepcopy(docs))).empty


def test_hpa_bounds_and_effective_replicas() -> None:
    d = diff_pair(parse(deployment(), hpa("ng-manager", 2, 4)), parse(deployment(), hpa("ng-manager", 3, 6)))
    assert d.changes == (
        Change(WORKLOADS, "Deployment/ng-manager", "hpa.max", "4", "6"),
        Change(WORKLOADS, "Deployment/ng-manager", "hpa.min", "2", "3"),
        Change(WORKLOADS, "Deployment/ng-manager", "replicas", "2", "3"),
    )


def test_spec_replicas_without_hpa() -> None:
    d = diff_pair(parse(deployment(replicas=1)), parse(deployment(replicas=3)))
    assert d.changes == (Change(WORKLOADS, "Deployment/ng-manager", "replicas", "1", "3"),)


def test_requests_limits_and_image_per_container() -> None:
    old = parse(deployment(containers=[container("ng-manager", "harness/ng:1", "1", "2Gi")]))
    new = parse(deployment(containers=[container("ng-manager", "harness/ng:2", "2", "4Gi")]))
    fields = {(c.field, c.old, c.new) for c in diff_pair(old, new).changes}
    assert fields == {("container ng-manager image", "harness/ng:1", "harness/ng:2"),
                      ("container ng-manager requests.cpu", "1", "2"),
                      ("container ng-manager requests.memory", "2Gi", "4Gi"),
                      ("container ng-manager limits.memory", "2Gi", "4Gi")}


def test_same_quantity_spelled_differently_is_no_change() -> None:
    old = parse(deployment(containers=[container("ng-manager", cpu="2", memory="1Gi")]))
    new = parse(deployment(containers=[container("ng-manager", cpu="2000m", memory="1024Mi")]))
    assert diff_pair(old, new).empty


def test_workloads_added_and_removed() -> None:
    d = diff_pair(parse(deployment("ng-manager"), deployment("old-svc")),
                  parse(deployment("ng-manager"), deployment("new-svc")))
    assert d.added_workloads == ["Deployment/new-svc"]
    assert d.removed_workloads == ["Deployment/old-svc"]
    assert {c.new for c in d.changes if c.object == "Deployment/old-svc"} == {ABSENT}


def test_random_name_parts_are_the_same_workload() -> None:
    d = diff_pair(parse(job("migrate-x7k2p")), parse(job("migrate-q9z1m")))
    assert d.empty, text_of(d.changes)


def test_storage_size_and_template_name() -> None:
    d = diff_pair(parse(statefulset(claims=[vct(size="20Gi")])), parse(statefulset(claims=[vct(size="50Gi")])))
    assert d.changes == (Change(WORKLOADS, "StatefulSet/mongodb", "volumeClaimTemplate datadir storage",
                                "20Gi", "50Gi"),)


def test_database_wiring_hosts_by_database_never_credentials() -> None:
    old = parse(configmap("ng", REDIS_URL="redis://redis.db.example.internal:6379"))
    new = parse(configmap("ng", REDIS_URL="redis://default:S3cretPw@redis2.db.example.internal:6379"))
    d = diff_pair(old, new)
    assert sorted(d.section(WIRING)) == [
        Change(WIRING, "redis", "host redis.db.example.internal", "redis.db.example.internal:6379", ABSENT),
        Change(WIRING, "redis", "host redis2.db.example.internal", ABSENT, "redis2.db.example.internal:6379")]
    assert "S3cretPw" not in text_of(d.changes)


def test_database_hosts_are_paired_by_host_not_by_position() -> None:
    """A host added before the others in sort order is an addition; a port change stays on its host.
    Paired by position, a-cache would show as 'changed' from b-cache and every later host shifted."""
    old = parse(configmap("ng", REDIS_URL="redis://b-cache:26379,c-cache:26379"))
    new = parse(configmap("ng", REDIS_URL="redis://a-cache:26379,b-cache:26379,c-cache:26380"))
    assert sorted(diff_pair(old, new).section(WIRING)) == [
        Change(WIRING, "redis", "host a-cache", ABSENT, "a-cache:26379"),
        Change(WIRING, "redis", "host c-cache", "c-cache:26379", "c-cache:26380")]


def test_database_wiring_tls_and_new_database() -> None:
    old = parse(configmap("ng", MONGO_URI="mongodb://$(U):$(P)@mongo-0.db:27017/ng?replicaSet=rs0"))
    new = parse(configmap("ng", MONGO_URI="mongodb://$(U):$(P)@mongo-0.db:27017/ng?replicaSet=rs0&tls=true",
                          TIMESCALEDB_URI="jdbc:postgresql://tsdb.db:5432/harness"))
    d = diff_pair(old, new)
    assert Change(WIRING, "mongo", "tls", "off", "on") in d.changes
    assert [c.object for c in d.section(WIRING) if not c.field] == ["timescaledb"]


def test_backup_objects_added_removed_changed() -> None:
    old = parse(schedule(), snapshot_class())
    new = parse(schedule(cron="0 2 * * 0", ttl="168h0m0s"))
    d = diff_pair(old, new)
    assert set(d.section(BACKUP)) >= {
        Change(BACKUP, "Schedule/harness-daily", "schedule", "0 2 * * *", "0 2 * * 0"),
        Change(BACKUP, "Schedule/harness-daily", "ttl", "720h0m0s", "168h0m0s"),
    }
    removed = [c for c in d.section(BACKUP) if c.object == "VolumeSnapshotClass/csi-snapclass"]
    assert len(removed) == 1 and removed[0].new == ABSENT and "ebs.csi.aws.com" in removed[0].old


def test_show_masks_credentials() -> None:
    assert "hunter2" not in show("postgres://app:hunter2@db:5432/x")
    assert "hunter2" not in show({"url": "redis://:hunter2@r:6379"})


# -- upgrade blockers ------------------------------------------------------------------------------
def blockers(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Finding]:
    return upgrade_blockers(parse(*old), parse(*new))


def test_no_blockers_for_identical_renders_or_allowed_changes() -> None:
    old = [deployment(), statefulset(), service(cluster_ip="None"), pvc(), job()]
    allowed = [deployment(replicas=5, containers=[container("ng-manager", "harness/ng:2")]),
               statefulset(replicas=5, image="mongo:7.0"), service(cluster_ip="None"), pvc(size="20Gi"), job()]
    assert blockers(old, copy.deepcopy(old)) == []
    assert blockers(old, allowed) == []


@pytest.mark.parametrize("kind_builder", [deployment, statefulset])
def test_selector_changed(kind_builder: Any) -> None:
    old = kind_builder()
    new = copy.deepcopy(old)
    new["spec"]["selector"]["matchLabels"]["tier"] = "backend"
    found = blockers([old], [new])
    assert [(f.check, f.workload, f.field) for f in found] == [("upgrade", f"{old['kind']}/{old['metadata']['name']}",
                                                                 "spec.selector")]
    assert "tier" in found[0].actual and "immutable" in found[0].hint


@pytest.mark.parametrize(("field", "value"), [("serviceName", "mongodb-headless"), ("podManagementPolicy",
                                                                                      "OrderedReady")])
def test_statefulset_immutable_fields(field: str, value: str) -> None:
    found = blockers([statefulset()], [statefulset(**{field: value})])
    assert [(f.workload, f.field, f.actual) for f in found] == [("StatefulSet/mongodb", f"spec.{field}", value)]


def test_volume_claim_template_renamed() -> None:
    found = blockers([statefulset(claims=[vct("datadir")])], [statefulset(claims=[vct("data")])])
    assert len(found) == 1
    f = found[0]
    assert (f.workload, f.field, f.actual) == ("StatefulSet/mongodb", "spec.volumeClaimTemplates[datadir]",
                                               "renamed to data")
    assert "datadir-mongodb-N" in f.expected


def test_volume_claim_template_shrunk_grown_class_and_modes() -> None:
    shrunk = blockers([statefulset(claims=[vct(size="20Gi")])], [statefulset(claims=[vct(size="10Gi")])])
    assert [(f.field, f.expected, f.actual) for f in shrunk] == [
        ("spec.volumeClaimTemplates[datadir].spec.resources.requests.storage", "20Gi", "10Gi")]
    assert "volumeClaimTemplates are immutable" in shrunk[0].hint  # the real reason, not "cannot shrink"
    assert "cannot shrink" not in shrunk[0].hint
    grown = blockers([statefulset(claims=[vct(size="20Gi")])], [statefulset(claims=[vct(size="50Gi")])])
    assert [f.field for f in grown] == ["spec.volumeClaimTemplates[datadir].spec.resources.requests.storage"]
    assert "immutable" in grown[0].hint
    klass = blockers([statefulset(claims=[vct()])], [statefulset(claims=[vct(storageClassName="gp3")])])
    assert [(f.field, f.actual) for f in klass] == [("spec.volumeClaimTemplates[datadir].spec.storageClassName",
                                                     "gp3")]
    modes = blockers([statefulset(claims=[vct()])], [statefulset(claims=[vct(accessModes=["ReadWriteMany"])])])
    assert [f.field for f in modes] == ["spec.volumeClaimTemplates[datadir].spec.accessModes"]


def test_volume_claim_template_other_change_added_and_removed() -> None:
    labelled = vct()
    labelled["metadata"]["labels"] = {"tier": "db"}
    other = blockers([statefulset(claims=[vct()])], [statefulset(claims=[labelled])])
    assert len(other) == 1 and other[0].field.startswith("spec.volumeClaimTemplates[datadir] (metadata")
    added = blockers([statefulset(claims=[vct()])], [statefulset(claims=[vct(), vct("logs")])])
    assert [(f.field, f.actual) for f in added] == [("spec.volumeClaimTemplates[logs]", "added")]
    removed = blockers([statefulset(claims=[vct(), vct("logs")])], [statefulset(claims=[vct()])])
    assert [(f.field, f.actual) for f in removed] == [("spec.volumeClaimTemplates[logs]", ABSENT)]


@pytest.mark.parametrize(("old_ip", "new_ip", "blocked"), [
    ("None", None, True), (None, "None", True), ("10.0.0.10", "10.0.0.11", True),
    ("10.0.0.10", "10.0.0.10", False), (None, None, False), ("None", "None", False),
    (None, "10.0.0.10", False), ("10.0.0.10", None, False)])
def test_service_cluster_ip(old_ip: str | None, new_ip: str | None, blocked: bool) -> None:
    found = blockers([service(cluster_ip=old_ip)], [service(cluster_ip=new_ip)])
    assert [f.field for f in found] == (["spec.clusterIP"] if blocked else [])


def test_job_template_changed_unless_hook_or_renamed() -> None:
    found = blockers([job()], [job(image="harness/migrate:2")])
    assert [(f.workload, f.field) for f in found] == [("Job/migrate", "spec.template")]
    assert "containers" in found[0].actual
    assert blockers([job(hook=True)], [job(image="harness/migrate:2", hook=True)]) == []
    assert blockers([job("migrate-1")], [job("migrate-2", image="harness/migrate:2")]) == []


def test_pvc_removed_unless_kept_and_shrunk() -> None:
    removed = blockers([pvc()], [])
    assert [(f.workload, f.field, f.actual) for f in removed] == [
        ("PersistentVolumeClaim/minio", "PersistentVolumeClaim", "removed")]
    assert blockers([pvc(keep=True)], []) == []
    shrunk = blockers([pvc(size="10Gi")], [pvc(size="5Gi")])
    assert [(f.field, f.expected, f.actual) for f in shrunk] == [("spec.resources.requests.storage", "10Gi", "5Gi")]
    assert blockers([pvc()], [pvc(storageClassName="gp3")])[0].field == "spec.storageClassName"


def test_statefulset_renamed() -> None:
    found = blockers([statefulset("mongodb-replicaset-chart")], [statefulset("mongodb")])
    assert [(f.workload, f.field, f.actual) for f in found] == [
        ("StatefulSet/mongodb-replicaset-chart", "metadata.name", "renamed to StatefulSet/mongodb")]
    # same image, different labels: still the same database moved to a new name
    by_image = blockers([statefulset("a", labels={"app": "a"})], [statefulset("b", labels={"app": "b"})])
    assert [f.field for f in by_image] == ["metadata.name"]
    # a different database appearing while another goes is not a rename
    unrelated = blockers([statefulset("a", labels={"app": "a"}, image="mongo:6")],
                         [statefulset("b", labels={"app": "b"}, image="redis:7")])
    assert unrelated == []


def test_workload_kind_changed() -> None:
    found = blockers([deployment("minio")], [statefulset("minio", labels={"app": "minio"})])
    assert [(f.workload, f.field, f.expected, f.actual) for f in found] == [
        ("Deployment/minio", "kind", "Deployment", "StatefulSet")]


# -- regressions -----------------------------------------------------------------------------------
def test_regressions_only_where_old_passed() -> None:
    f = Finding("wiring", "ConfigMap/x", "hosts", "a", "b")
    old = {("large-a", "database_wiring"): [], ("large-a", "hpa_bounds"): [f], ("large-b", "database_wiring"): []}
    new = {("large-a", "database_wiring"): [f, f], ("large-a", "hpa_bounds"): [f, f],
           ("large-b", "database_wiring"): [], ("large-c", "database_wiring"): [f]}
    found = regressions(old, new)
    assert [(r.pair, r.check, r.findings) for r in found] == [("large-a", "database_wiring", (f,))]
    assert regressions(new, old) == []
