"""backup.backup and backup.longest_interval can fail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness_refarch.checks import backup

DB_LABELS = {"app": "mongodb", "app.kubernetes.io/part-of": "harness-db"}
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


def _schedule(*, schedule="0 7 * * *", namespaces=("harness",), ttl="720h0m0s", selector="default",
              api_version="velero.io/v1", **template):
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
    return {"apiVersion": api_version, "kind": "Schedule",
            "metadata": {"name": "harness-daily", "namespace": "velero"}, "spec": spec}


def _render(k8s, manifest, *extra, schedule=None, snapshot_class=SNAPSHOT_CLASS):
    docs = [k8s.statefulset("mongodb", labels=DB_LABELS), k8s.deployment("ng-manager"), *extra]
    if schedule is not None:
        docs.append(schedule)
    if snapshot_class is not None:
        docs.append(snapshot_class)
    return manifest(*docs)


def _check(make_pair, m):
    return backup.backup(make_pair(backup=True), m)


# -- conformant ------------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", [
    _schedule(),
    _schedule(schedule="@every 12h"),
    _schedule(schedule="0 */6 * * *"),
    _schedule(schedule="@daily"),
    _schedule(schedule="@every 24h"),
    _schedule(namespaces=["*"]),
    _schedule(selector=None),  # no selector: the whole namespace
    _schedule(selector=None, orLabelSelectors=[{"matchLabels": {"app": "postgres"}},
                                               {"matchLabels": {"app": "mongodb"}}]),
    _schedule(snapshotVolumes=False, defaultVolumesToFsBackup=True),
], ids=["daily_cron", "every_12h", "every_6h_cron", "daily_macro", "every_24h", "all_namespaces",
        "no_selector", "or_selectors", "fs_backup"])
def test_backup_conformant(make_pair, k8s, manifest, schedule):
    assert _check(make_pair, _render(k8s, manifest, schedule=schedule)) == []


# -- Schedule present at all -----------------------------------------------------------------
@pytest.mark.parametrize("schedule", [None, _schedule(api_version="example.com/v1")],
                         ids=["no_schedule", "not_a_velero_schedule"])
def test_backup_no_schedule(make_pair, k8s, manifest, schedule):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule))
    assert f.check == "backup"
    assert f.workload == "backup"
    assert f.field == "velero.io Schedule"
    assert f.expected == "at least one"
    assert f.actual == "none rendered"


# -- namespace -------------------------------------------------------------------------------
def test_backup_schedule_for_other_namespace(make_pair, k8s, manifest):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(namespaces=["other"])))
    assert f.workload == "Schedule/harness-daily"
    assert f.field == "spec.template.includedNamespaces"
    assert f.expected == "includes harness"
    assert f.actual == "['other']"


def test_backup_schedule_excludes_namespace(make_pair, k8s, manifest):
    schedule = _schedule(namespaces=["*"], excludedNamespaces=["harness"])
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule))
    assert (f.workload, f.field, f.actual) == ("Schedule/harness-daily", "spec.template.includedNamespaces", "['*']")


def test_backup_unset_included_namespaces_means_all(make_pair, k8s, manifest):
    assert _check(make_pair, _render(k8s, manifest, schedule=_schedule(namespaces=None))) == []


# -- schedule expression and ttl -------------------------------------------------------------
@pytest.mark.parametrize(("expr", "gap"), [
    ("0 7 * * 0", "7 days, 0:00:00"),
    ("@weekly", "7 days, 0:00:00"),
    ("0 0 * * 1-5", "3 days, 0:00:00"),
    ("@every 36h", "1 day, 12:00:00"),
], ids=["weekly_cron", "weekly_macro", "weekdays_only", "every_36h"])
def test_backup_schedule_too_rare(make_pair, k8s, manifest, expr, gap):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(schedule=expr)))
    assert f.workload == "Schedule/harness-daily"
    assert f.field == "spec.schedule"
    assert f.expected == "a run at least every 24h"
    assert f.actual == f"{expr!r} leaves up to {gap} between runs"


@pytest.mark.parametrize(("expr", "message"), [
    ("not a cron", "'not a cron' is not a valid cron expression"),
    ("61 * * * *", "'61 * * * *' is not a valid cron expression"),
    ("@every soon", "'@every soon': '@every' needs a duration"),
    (None, "'' is not a valid cron expression"),
], ids=["words", "minute_61", "every_without_duration", "schedule_missing"])
def test_backup_schedule_invalid(make_pair, k8s, manifest, expr, message):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(schedule=expr)))
    assert (f.workload, f.field, f.expected) == ("Schedule/harness-daily", "spec.schedule", "a valid cron expression")
    assert f.actual.startswith(message)


@pytest.mark.parametrize("ttl", [None, ""], ids=["ttl_absent", "ttl_empty"])
def test_backup_missing_ttl(make_pair, k8s, manifest, ttl):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(ttl=ttl)))
    assert f.workload == "Schedule/harness-daily"
    assert f.field == "spec.template.ttl"
    assert f.expected == "set (backup retention)"
    assert f.actual == "missing"


# -- what the schedule selects ---------------------------------------------------------------
def test_backup_statefulset_not_selected(make_pair, k8s, manifest):
    schedule = _schedule(selector={"matchLabels": {"app": "postgres"}})
    [f] = _check(make_pair, _render(k8s, manifest, schedule=schedule))
    assert f.workload == "StatefulSet/mongodb"
    assert f.field == "pods and volumes selected by a Velero Schedule"
    assert f.expected.startswith("selected (labelSelector matches pod labels")
    assert f.actual.startswith("not selected; pod labels ")
    assert "'app': 'mongodb'" in f.actual


def test_backup_statefulset_volumes_not_snapshotted(make_pair, k8s, manifest):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(snapshotVolumes=False)))
    assert (f.workload, f.field) == ("StatefulSet/mongodb", "pods and volumes selected by a Velero Schedule")


def test_backup_pvc_mounting_deployment_not_selected(make_pair, k8s, manifest):
    minio = k8s.deployment("minio", labels={"app": "minio"},
                           volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "minio"}}])
    [f] = _check(make_pair, _render(k8s, manifest, minio, schedule=_schedule()))
    assert f.workload == "Deployment/minio"
    assert "{'app': 'minio'}" in f.actual


def test_backup_statefulset_without_volumes_ignored(make_pair, k8s, manifest):
    stateless = k8s.statefulset("redis-proxy", labels={"app": "redis-proxy"}, storage=None)
    assert _check(make_pair, _render(k8s, manifest, stateless, schedule=_schedule())) == []


# -- VolumeSnapshotClass ---------------------------------------------------------------------
@pytest.mark.parametrize("snapshot_class", [None, SNAPSHOT_CLASS.replace('"true"', '"false"'),
                                            SNAPSHOT_CLASS.replace("velero.io/csi-volumesnapshot-class", "other")],
                         ids=["no_class", "label_false", "label_missing"])
def test_backup_no_labelled_snapshot_class(make_pair, k8s, manifest, snapshot_class):
    [f] = _check(make_pair, _render(k8s, manifest, schedule=_schedule(), snapshot_class=snapshot_class))
    assert f.workload == "backup"
    assert f.field == 'VolumeSnapshotClass labelled velero.io/csi-volumesnapshot-class: "true"'
    assert f.expected == "one"
    assert f.actual == "none rendered"


# -- longest_interval ------------------------------------------------------------------------
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


@pytest.mark.parametrize("expr", ["", "every day", "0 25 * * *", "@every", "@every forever"],
                         ids=["empty", "words", "hour_25", "every_bare", "every_words"])
def test_longest_interval_invalid(expr):
    with pytest.raises(ValueError, match=r"cron expression|needs a duration"):
        backup.longest_interval(expr)


def test_longest_interval_milliseconds():
    assert backup.longest_interval("@every 1500ms") == timedelta(seconds=1.5)
