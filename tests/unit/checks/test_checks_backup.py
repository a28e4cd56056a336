"""backup.backup, its data (fixtures/backup.yaml) and the operator's manifests can fail."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from harness_refarch.checks import backup
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.manifest import parse_manifest

ROOT = Path(__file__).resolve().parents[3]
POLICY = backup.load_policy(ROOT / "fixtures" / "backup.yaml")
DB_LABELS = {"app.kubernetes.io/name": "mongodb", "app.kubernetes.io/part-of": "harness-db"}
PG_LABELS = {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/part-of": "harness-db"}
SNAPSHOT_CLASS = """\
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: csi-snapclass
  labels:
    velero.io/csi-volumesnapshot-class: "true"
driver: ebs.csi.aws.com
deletionPolicy: Retain
"""
NO_EVIDENCE = "the chart renders no backup objects and no --refarch-manifests were given"


def _schedule(*, name="harness-daily", schedule="0 7 * * *", namespaces=("harness",), ttl="720h0m0s",
              selector="default", api_version="velero.io/v1", paused=None, **template):
    tmpl = dict(template)
    if namespaces is not None:
        tmpl["includedNamespaces"] = list(namespaces)
    if ttl is not None:
        tmpl["ttl"] = ttl
    if selector == "default":
        selector = {"matchLabels": {"app.kubernetes.io/part-of": "harness-db"}}
    if selector is not None:
        tmpl["labelSelector"] = selector
    spec = {"template": tmpl}
    if schedule is not None:
        spec["schedule"] = schedule
    if paused is not None:
        spec["paused"] = paused
    return {"apiVersion": api_version, "kind": "Schedule",
            "metadata": {"name": name, "namespace": "velero"}, "spec": spec}


def _cronjob(name, command, *, schedule="0 3 * * *", image="docker.io/bitnami/mongodb:6.0", suspend=None):
    spec = {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "OnFailure",
        "containers": [{"name": "dump", "image": image, "command": command}]}}}}}
    if suspend is not None:
        spec["suspend"] = suspend
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": spec}


def _render(k8s, manifest, *extra, schedule=None, snapshot_class=SNAPSHOT_CLASS, postgres=False):
    docs = [k8s.statefulset("mongodb", labels=DB_LABELS), k8s.deployment("ng-manager"), *extra]
    if postgres:
        docs.append(k8s.statefulset("postgres", labels=PG_LABELS, image="docker.io/bitnami/postgresql:15"))
    if schedule is not None:
        docs += schedule if isinstance(schedule, list) else [schedule]
    if snapshot_class is not None:
        docs.append(snapshot_class)
    return manifest(*docs)


def _check(make_pair, m, *operator):
    return backup.backup(make_pair(backup=True), m, backup.Evidence(POLICY, tuple(operator)))


def _operator(*docs, name="velero-schedule.yaml"):
    text = "\n---\n".join(d if isinstance(d, str) else yaml.safe_dump(d) for d in docs)
    return parse_manifest(text, "harness", source=name)


# -- conformant ------------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", [
    _schedule(),
    _schedule(schedule="@every 12h"),
    _schedule(schedule="0 */6 * * *"),
    _schedule(schedule="@daily"),
    _schedule(schedule="0 7 * * 0", ttl="168h"),
    _schedule(schedule="0 0 * * 1-5"),
    _schedule(namespaces=["*"]),
    _schedule(namespaces=None),
    _schedule(namespaces=["harn*"]),
    _schedule(selector=None),
    _schedule(selector={}),
    _schedule(selector={"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In",
                                              "values": ["postgresql", "mongodb"]}]}),
    _schedule(selector={"matchExpressions": [{"key": "app.kubernetes.io/part-of", "operator": "Exists"},
                                             {"key": "tier", "operator": "DoesNotExist"}]}),
    _schedule(selector=None, orLabelSelectors=[{"matchLabels": {"app": "postgres"}},
                                               {"matchLabels": {"app.kubernetes.io/name": "mongodb"}}]),
    _schedule(snapshotVolumes=False, defaultVolumesToFsBackup=True),
    _schedule(includedResources=["po", "pvc", "pv", "statefulsets"]),
    _schedule(includedResources=["*"], excludedResources=["secrets"]),
    _schedule(includedNamespaceScopedResources=["pods", "persistentvolumeclaims"]),
], ids=["daily_cron", "every_12h", "every_6h_cron", "daily_macro", "weekly_with_weekly_ttl", "weekdays_only",
        "all_namespaces", "namespaces_unset", "namespace_glob", "no_selector", "empty_selector", "match_expressions_in",
        "exists_and_does_not_exist", "or_selectors", "fs_backup", "short_resource_names", "all_resources",
        "namespace_scoped_resources"])
def test_backup_conformant(make_pair, k8s, manifest, schedule):
    assert _check(make_pair, _render(k8s, manifest, schedule=schedule)) == []


def test_weekly_is_the_documented_minimum_from_the_data():
    assert POLICY.max_interval == timedelta(days=7)
    assert POLICY.min_ttl_cycles == 1


# -- no evidence at all: one finding that says how to supply it ------------------------------
@pytest.mark.parametrize("schedule", [None, _schedule(api_version="example.com/v1")],
                         ids=["nothing", "not_a_velero_schedule"])
def test_no_evidence_is_one_finding_saying_how_to_supply_it(make_pair, k8s, manifest, schedule):
    m = _render(k8s, manifest, schedule=schedule, snapshot_class=None, postgres=True)
    [f] = _check(make_pair, m)
    assert (f.check, f.workload, f.field) == ("backup", "backup", "backup objects")
    assert f.actual == NO_EVIDENCE
    assert "--refarch-manifests velero-schedule.yaml" in f.hint
    assert "fixtures/examples/velero-backup.yaml" in f.hint
    assert "Velero Schedule backing up namespace harness" in f.expected


def test_operator_manifests_are_evidence(make_pair, k8s, manifest):
    m = _render(k8s, manifest, snapshot_class=None)
    assert _check(make_pair, m, _operator(_schedule(), SNAPSHOT_CLASS)) == []


def test_findings_about_operator_objects_name_their_file(make_pair, k8s, manifest):
    m = _render(k8s, manifest, snapshot_class=None)
    [f] = _check(make_pair, m, _operator(_schedule(ttl="1h"), SNAPSHOT_CLASS, name="ops.yaml"))
    assert (f.workload, f.field) == ("Schedule/harness-daily", "spec.template.ttl")
    assert f.hint == "from --refarch-manifests ops.yaml"


def test_render_and_operator_evidence_combine(make_pair, k8s, manifest):
    """The chart renders the snapshot class, the operator adds the Schedule."""
    m = _render(k8s, manifest)
    assert _check(make_pair, m, _operator(_schedule())) == []


# -- evidence without a schedule for the namespace -------------------------------------------
def test_only_a_snapshot_class_is_one_finding(make_pair, k8s, manifest):
    [f] = _check(make_pair, _render(k8s, manifest))
    assert (f.workload, f.field) == ("backup", "backup schedule")
    assert f.expected.startswith("a Velero Schedule that includes namespace harness")
    assert "running at least every 168h (7 days)" in f.expected
    assert f.actual == "none; found VolumeSnapshotClass/csi-snapclass"


def test_only_a_one_off_backup_is_one_finding(make_pair, k8s, manifest):
    one_off = {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "before-upgrade"},
               "spec": {"includedNamespaces": ["harness"]}}
    [f] = _check(make_pair, _render(k8s, manifest, snapshot_class=None), _operator(one_off, name="b.yaml"))
    assert f.actual == "none; found Backup/before-upgrade (b.yaml)"
    assert "one-off Backup runs once" in f.hint


@pytest.mark.parametrize(("template", "reason"), [
    ({"namespaces": ["other"]}, "includedNamespaces ['other'] leaves out namespace harness"),
    ({"namespaces": ["*"], "excludedNamespaces": ["harness"]}, "excludedNamespaces ['harness'] leaves out"),
    ({"namespaces": ["harness-*"]}, "includedNamespaces ['harness-*'] leaves out namespace harness"),
    ({"namespaces": ["*"], "excludedNamespaces": ["h?rness"]}, "excludedNamespaces ['h?rness'] leaves out"),
], ids=["other_namespace", "excluded_namespace", "glob_missing", "excluded_by_glob"])
def test_schedule_for_another_namespace(make_pair, k8s, manifest, template, reason):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(**template), postgres=True))
    assert (f.workload, f.field) == ("backup", "backup schedule")
    assert f"Schedule/harness-daily: {reason}" in f.actual


def test_schedules_of_other_namespaces_are_ignored_beside_one_for_ours(make_pair, k8s, manifest):
    other = _schedule(name="other-app", namespaces=["other"], schedule="@monthly", ttl=None)
    assert _check(make_pair, _render(k8s, manifest, schedule=[_schedule(), other])) == []


# -- cadence and TTL -------------------------------------------------------------------------
@pytest.mark.parametrize(("expr", "gap"), [
    ("0 7 1 * *", "744h (31 days)"),
    ("@monthly", "744h (31 days)"),
    ("@every 192h", "192h (8 days)"),
    ("0 7 1,15 * *", "408h (17 days)"),
], ids=["monthly_cron", "monthly_macro", "every_8_days", "twice_a_month"])
def test_schedule_too_rare(make_pair, k8s, manifest, expr, gap):
    found = _check(make_pair, _render(k8s, manifest, schedule=_schedule(schedule=expr, ttl="9000h")))
    [f] = found
    assert (f.workload, f.field) == ("Schedule/harness-daily", "spec.schedule")
    assert f.expected == "a run at least every 168h (7 days)"
    assert f.actual == f"{expr!r} leaves up to {gap} between runs"


@pytest.mark.parametrize(("expr", "message"), [
    ("not a cron", "'not a cron' is not a valid cron expression"),
    ("61 * * * *", "'61 * * * *' is not a valid cron expression"),
    ("0 7 * * * *", "'0 7 * * * *' is not a valid cron expression"),
    ("@every soon", "'@every soon': '@every' needs a duration"),
    ("@every 12hours", "'@every 12hours': '@every' needs a duration"),
    (None, "'' is not a valid cron expression"),
], ids=["words", "minute_61", "six_fields", "every_without_duration", "every_bad_unit", "schedule_missing"])
def test_schedule_invalid(make_pair, k8s, manifest, expr, message):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(schedule=expr)))
    assert (f.workload, f.field, f.expected) == ("Schedule/harness-daily", "spec.schedule", "a valid cron expression")
    assert f.actual.startswith(message)


@pytest.mark.parametrize(("schedule", "ttl", "expected", "actual"), [
    ("0 7 * * *", None, "at least 24h: one full cycle between runs", "missing (Velero's server default applies"),
    ("0 7 * * *", "", "at least 24h: one full cycle between runs", "missing"),
    ("0 7 * * *", "12h0m0s", "at least 24h: one full cycle between runs",
     "12h0m0s = 12h: backups expire before the next run"),
    ("0 7 * * 0", "72h", "at least 168h (7 days): one full cycle between runs", "72h = 72h (3 days): backups expire"),
    ("0 7 * * *", "30 days", "at least 24h: one full cycle between runs", "'30 days' is not a duration"),
], ids=["absent", "empty", "shorter_than_a_day", "shorter_than_a_week", "not_a_go_duration"])
def test_ttl_keeps_one_full_cycle(make_pair, k8s, manifest, schedule, ttl, expected, actual):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(schedule=schedule, ttl=ttl)))
    assert (f.workload, f.field, f.expected) == ("Schedule/harness-daily", "spec.template.ttl", expected)
    assert f.actual.startswith(actual)


def test_ttl_of_exactly_one_cycle_is_enough(make_pair, k8s, manifest):
    assert _check(make_pair, _render(k8s, manifest, schedule=_schedule(ttl="24h"))) == []


def test_paused_schedule(make_pair, k8s, manifest):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(paused=True)))
    assert (f.workload, f.field, f.expected, f.actual) == (
        "Schedule/harness-daily", "spec.paused", "false (the schedule runs)", "true")


def test_label_selector_and_or_selectors_together_are_refused_by_velero(make_pair, k8s, manifest):
    schedule = _schedule(orLabelSelectors=[{"matchLabels": {"app.kubernetes.io/name": "mongodb"}}])
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule))
    assert (f.workload, f.field, f.actual) == ("Schedule/harness-daily", "spec.template.labelSelector", "both set")


def test_a_rare_archive_schedule_beside_a_daily_one_is_fine(make_pair, k8s, manifest):
    archive = _schedule(name="harness-archive", schedule="@yearly", ttl="9000h")
    assert _check(make_pair, _render(k8s, manifest, schedule=[_schedule(), archive])) == []


def test_every_covering_schedule_too_rare_names_each(make_pair, k8s, manifest):
    a = _schedule(name="a", schedule="@monthly", ttl="9000h")
    b = _schedule(name="b", schedule="@yearly", ttl="9000h")
    found = _check(make_pair, _render(k8s, manifest, schedule=[a, b]))
    assert sorted((f.workload, f.field) for f in found) == [("Schedule/a", "spec.schedule"),
                                                           ("Schedule/b", "spec.schedule")]


# -- what the schedule selects ---------------------------------------------------------------
def test_statefulset_not_selected_names_workload_field_and_labels(make_pair, k8s, manifest):
    schedule = _schedule(selector={"matchLabels": {"app.kubernetes.io/name": "mongodb"}})
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule, postgres=True))
    assert f.workload == "StatefulSet/postgres"
    assert f.field == "Schedule/harness-daily spec.template.labelSelector"
    assert f.expected == "selects the pods of StatefulSet/postgres (Velero adds their PVCs and volumes)"
    assert f.actual.startswith("app.kubernetes.io/name=mongodb does not match the pod labels {")
    assert "'app.kubernetes.io/name': 'postgresql'" in f.actual


def test_match_expressions_missing_a_value(make_pair, k8s, manifest):
    schedule = _schedule(selector={"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["mongodb", "redis"]}]})
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule, postgres=True))
    assert f.workload == "StatefulSet/postgres"
    assert f.actual.startswith("app.kubernetes.io/name in (mongodb, redis) does not match")


def test_not_in_excludes_a_workload(make_pair, k8s, manifest):
    schedule = _schedule(selector={"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["postgresql"]}]})
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule, postgres=True))
    assert f.workload == "StatefulSet/postgres"
    assert f.actual.startswith("app.kubernetes.io/name notin (postgresql) does not match")


def test_or_selectors_missing_a_workload(make_pair, k8s, manifest):
    schedule = _schedule(selector=None, orLabelSelectors=[{"matchLabels": {"app.kubernetes.io/name": "mongodb"}},
                                                          {"matchLabels": {"app": "redis"}}])
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule, postgres=True))
    assert (f.workload, f.field) == ("StatefulSet/postgres", "Schedule/harness-daily spec.template.orLabelSelectors")
    assert f.actual.startswith("none of app.kubernetes.io/name=mongodb | app=redis matches the pod labels")


def test_two_schedules_covering_one_workload_each(make_pair, k8s, manifest):
    mongo = _schedule(name="mongo", selector={"matchLabels": {"app.kubernetes.io/name": "mongodb"}})
    pg = _schedule(name="pg", selector={"matchLabels": {"app.kubernetes.io/name": "postgresql"}})
    assert _check(make_pair, _render(k8s, manifest, schedule=[mongo, pg], postgres=True)) == []


def test_uncovered_workload_gets_one_finding_per_schedule(make_pair, k8s, manifest):
    mongo = _schedule(name="mongo", selector={"matchLabels": {"app.kubernetes.io/name": "mongodb"}})
    redis = _schedule(name="redis", selector={"matchLabels": {"app.kubernetes.io/name": "redis"}})
    found = _check(make_pair, _render(k8s, manifest, schedule=[mongo, redis], postgres=True))
    assert sorted((f.workload, f.field) for f in found) == [
        ("StatefulSet/postgres", "Schedule/mongo spec.template.labelSelector"),
        ("StatefulSet/postgres", "Schedule/redis spec.template.labelSelector")]


@pytest.mark.parametrize(("template", "field", "actual"), [
    ({"includedResources": ["pods", "statefulsets"]}, "spec.template.includedResources",
     "['pods', 'statefulsets'] leaves out persistentvolumeclaims"),
    ({"excludedResources": ["pvc"]}, "spec.template.excludedResources", "['pvc'] drops persistentvolumeclaims"),
    ({"includedResources": ["pods", "persistentvolumeclaims"]}, "spec.template.includedResources",
     "['pods', 'persistentvolumeclaims'] leaves out persistentvolumes"),
    ({"includedNamespaceScopedResources": ["persistentvolumeclaims"]},
     "spec.template.includedNamespaceScopedResources", "['persistentvolumeclaims'] leaves out pods"),
    ({"includedClusterScopedResources": ["storageclasses"]}, "spec.template.includedClusterScopedResources",
     "['storageclasses'] leaves out persistentvolumes"),
], ids=["pvcs_not_included", "pvcs_excluded", "pvs_not_included", "pods_not_namespace_scoped",
        "pvs_not_cluster_scoped"])
def test_resource_filters_that_drop_volumes(make_pair, k8s, manifest, template, field, actual):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(**template)))
    assert (f.workload, f.field, f.actual) == ("StatefulSet/mongodb", f"Schedule/harness-daily {field}", actual)
    assert f.expected == "keeps pods, persistentvolumeclaims and persistentvolumes"


def test_volumes_not_snapshotted(make_pair, k8s, manifest):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(snapshotVolumes=False)))
    assert (f.workload, f.field) == ("StatefulSet/mongodb", "Schedule/harness-daily spec.template.snapshotVolumes")
    assert f.expected == "the volumes of StatefulSet/mongodb backed up (snapshotVolumes not false)"
    assert f.actual.startswith("false, and volumes data are not backed up through the file system")


def _annotated(k8s, annotation):
    sts = k8s.statefulset("mongodb", labels=DB_LABELS)
    sts["spec"]["template"]["metadata"]["annotations"] = annotation
    return sts


def test_file_system_backup_by_pod_annotation(make_pair, k8s, manifest):
    sts = _annotated(k8s, {"backup.velero.io/backup-volumes": "data"})
    m = manifest(sts, _schedule(snapshotVolumes=False))
    assert _check(make_pair, m) == []  # no snapshots at all: no VolumeSnapshotClass needed either


def test_file_system_backup_opted_out_by_pod_annotation(make_pair, k8s, manifest):
    sts = _annotated(k8s, {"backup.velero.io/backup-volumes-excludes": "data"})
    m = manifest(sts, _schedule(snapshotVolumes=False, defaultVolumesToFsBackup=True))
    [f] = _check(make_pair, m)
    assert f.field == "Schedule/harness-daily spec.template.snapshotVolumes"


def test_pvc_mounting_deployment_not_selected(make_pair, k8s, manifest):
    minio = k8s.deployment("minio", labels={"app": "minio"},
                           volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "minio"}}])
    [f] = _check(make_pair, _render(k8s, manifest, minio, schedule=_schedule()))
    assert f.workload == "Deployment/minio"
    assert "{'app': 'minio'}" in f.actual


def test_workloads_without_volumes_or_with_transient_pods_are_not_targets(make_pair, k8s, manifest):
    stateless = k8s.statefulset("redis-proxy", labels={"app": "redis-proxy"}, storage=None)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}, "spec": {"template": {
        "metadata": {"labels": {"app": "migrate"}}, "spec": {"restartPolicy": "Never", "containers": [
            {"name": "m", "image": "harness/migrate:1"}],
            "volumes": [{"name": "scratch", "persistentVolumeClaim": {"claimName": "scratch"}}]}}}}
    assert _check(make_pair, _render(k8s, manifest, stateless, job, schedule=_schedule())) == []


# -- database backup CronJobs ----------------------------------------------------------------
def test_mongodump_cronjob_backs_up_mongodb(make_pair, k8s, manifest):
    job = _cronjob("mongo-backup", ["sh", "-c", "mongodump --archive=/backup/$(date +%F).gz --gzip"])
    assert _check(make_pair, _render(k8s, manifest, job, snapshot_class=None)) == []


def test_mongodump_cronjob_does_not_back_up_postgres(make_pair, k8s, manifest):
    job = _cronjob("mongo-backup", ["mongodump", "--archive"])
    [f] = _check(make_pair, _render(k8s, manifest, job, snapshot_class=None, postgres=True))
    assert (f.workload, f.field) == ("StatefulSet/postgres", "CronJob/mongo-backup (runs mongodump)")
    assert f.actual == ("mongodump backs up mongo images; StatefulSet/postgres runs "
                        "docker.io/bitnami/postgresql:15")


@pytest.mark.parametrize(("kwargs", "field", "actual"), [
    ({"schedule": "@monthly"}, "spec.schedule", "'@monthly' leaves up to 744h (31 days) between runs"),
    ({"suspend": True}, "spec.suspend", "true"),
], ids=["too_rare", "suspended"])
def test_backup_cronjob_that_falls_short(make_pair, k8s, manifest, kwargs, field, actual):
    job = _cronjob("mongo-backup", ["mongodump"], **kwargs)
    [f] = _check(make_pair, _render(k8s, manifest, job, snapshot_class=None))
    assert (f.workload, f.field, f.actual) == ("CronJob/mongo-backup", field, actual)


def test_cronjob_without_a_dump_tool_is_no_evidence(make_pair, k8s, manifest):
    job = _cronjob("cleanup", ["sh", "-c", "rm -rf /tmp/*"], image="busybox:1.36")
    [f] = _check(make_pair, _render(k8s, manifest, job, snapshot_class=None))
    assert f.actual == NO_EVIDENCE


# -- VolumeSnapshotClass ---------------------------------------------------------------------
@pytest.mark.parametrize("snapshot_class", [None, SNAPSHOT_CLASS.replace('"true"', '"false"'),
                                            SNAPSHOT_CLASS.replace("velero.io/csi-volumesnapshot-class", "other")],
                         ids=["no_class", "label_false", "label_missing"])
def test_snapshots_need_a_labelled_class(make_pair, k8s, manifest, snapshot_class):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(), snapshot_class=snapshot_class))
    assert f.workload == "backup"
    assert f.field == 'VolumeSnapshotClass labelled velero.io/csi-volumesnapshot-class: "true"'
    assert f.expected == "one per CSI driver (Velero's CSI snapshots use it)"
    assert f.actual == "none rendered or given with --refarch-manifests"


def test_two_labelled_classes_for_one_driver(make_pair, k8s, manifest):
    second = SNAPSHOT_CLASS.replace("name: csi-snapclass", "name: csi-snapclass-2")
    [f] = _check(make_pair, _render(k8s, manifest, second, schedule=_schedule()))
    assert (f.workload, f.field, f.actual) == (
        "VolumeSnapshotClass/csi-snapclass, VolumeSnapshotClass/csi-snapclass-2", "driver",
        "2 for driver ebs.csi.aws.com")


def test_one_class_in_the_render_and_a_manifest_file_is_one_class(make_pair, k8s, manifest):
    m = _render(k8s, manifest, schedule=_schedule())
    assert _check(make_pair, m, _operator(SNAPSHOT_CLASS)) == []


# -- durations -------------------------------------------------------------------------------
@pytest.mark.parametrize(("expr", "gap"), [
    ("0 7 * * *", timedelta(hours=24)),
    ("@daily", timedelta(hours=24)),
    ("@midnight", timedelta(hours=24)),
    ("@weekly", timedelta(days=7)),
    ("0 7 * * 0", timedelta(days=7)),
    ("0 */6 * * *", timedelta(hours=6)),
    ("30 1,13 * * *", timedelta(hours=12)),
    ("@hourly", timedelta(hours=1)),
    ("@monthly", timedelta(days=31)),
    ("@every 12h", timedelta(hours=12)),
    ("@every 1h30m", timedelta(minutes=90)),
    ("  @every 24h  ", timedelta(hours=24)),
], ids=["daily_0700", "daily_macro", "midnight_macro", "weekly_macro", "weekly_cron", "every_6h",
        "twice_daily", "hourly", "monthly", "every_12h", "every_1h30m", "whitespace"])
def test_longest_interval(expr, gap):
    assert backup.longest_interval(expr) == gap


@pytest.mark.parametrize("expr", ["", "every day", "0 25 * * *", "@every", "@every forever", "@every 3d"],
                         ids=["empty", "words", "hour_25", "every_bare", "every_words", "every_days"])
def test_longest_interval_invalid(expr):
    with pytest.raises(ValueError, match=r"cron expression|needs a duration"):
        backup.longest_interval(expr)


def test_longest_interval_milliseconds():
    assert backup.longest_interval("@every 1500ms") == timedelta(seconds=1.5)


@pytest.mark.parametrize(("text", "delta"), [
    ("720h0m0s", timedelta(days=30)), ("1h30m", timedelta(minutes=90)), ("0", timedelta(0)),
    ("1.5h", timedelta(minutes=90)), ("90s", timedelta(seconds=90))])
def test_go_duration(text, delta):
    assert backup.go_duration(text) == delta


@pytest.mark.parametrize("text", ["", "30", "30d", "1 day", "h"])
def test_go_duration_invalid(text):
    with pytest.raises(ValueError, match="is not a duration such as 720h0m0s"):
        backup.go_duration(text)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(hours=24), "24h"), (timedelta(days=7), "168h (7 days)"), (timedelta(minutes=90), "1h30m0s")])
def test_human(delta, text):
    assert backup.human(delta) == text


# -- the data file ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "message"), [
    ("- a list\n", "must be a mapping"),
    ("schedules: [{kind: Schedule, group: velero.io}]\n", "is malformed (KeyError"),
    ("max_interval: weekly\nschedules: [{kind: Schedule, group: velero.io}]\n", "is malformed (ValueError"),
    ("max_interval: 168h\nschedules: [{kind: Schedule}]\n", "needs a group and a kind"),
    ("max_interval: 168h\njobs: [{tool: x, runs: '(', images: [x]}]\n", "is malformed (error"),
    ("max_interval: 168h\n", "names no schedule kind and no backup job"),
], ids=["list", "no_interval", "bad_interval", "kind_without_group", "bad_regex", "nothing_counts"])
def test_malformed_backup_data_is_one_paragraph(tmp_path, text, message):
    path = tmp_path / "backup.yaml"
    path.write_text(text)
    with pytest.raises(RefarchError) as info:
        backup.load_policy(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_backup_data_names_the_file(tmp_path):
    with pytest.raises(RefarchError, match=r"has no backup data file .*backup\.yaml"):
        backup.load_policy(tmp_path / "backup.yaml")


# -- the operator's manifests ----------------------------------------------------------------
@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist or is not a file"),
    (b"\xff\xfe\x00binary", "is not UTF-8 text"),
    (b"kind: Schedule\n  bad: [indent\n", "is not valid YAML (" ),
    (b"- just\n- a list\n", "is not a stream of Kubernetes objects: document #0 kind"),
    (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "holds no backup object (ConfigMap/x)"),
    (("---\nkind: Schedule\n---\n" + 'a: &a [x,x,x,x,x,x,x,x,x]\n' + "".join(
        f"{n}: &{n} [{','.join([f'*{q}'] * 9)}]\n" for q, n in zip("abcdefgh", "bcdefghi", strict=True))).encode(),
     "is refused: it expands to"),
], ids=["missing", "binary", "not_yaml", "not_objects", "no_backup_object", "alias_bomb"])
def test_bad_manifest_files_are_one_paragraph(tmp_path, content, message):
    path = tmp_path / "velero-schedule.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RefarchError, match="given with --refarch-manifests") as info:
        backup.load_manifests([path], "harness", POLICY)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_manifest_file_never_quoted_in_errors(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: Hunter2Secret}\n"
                    "---\n: : bad: [\n")
    with pytest.raises(RefarchError) as info:
        backup.load_manifests([path], "harness", POLICY)
    assert "Hunter2Secret" not in str(info.value)


def test_example_manifests_load_and_are_evidence():
    [m] = backup.load_manifests([ROOT / "fixtures" / "examples" / "velero-backup.yaml"], "harness", POLICY)
    assert sorted(o.key for o in m.objects) == ["Schedule/harness-daily", "VolumeSnapshotClass/velero-csi-snapshots"]
    assert m.source == "velero-backup.yaml"
