"""Backup and restore: a Velero Schedule covering the database volumes, a CSI snapshot class."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta

from croniter import croniter

from harness_refarch.catalog import Pair
from harness_refarch.findings import Finding
from harness_refarch.manifest import K8sObject, Manifest, Workload, selector_matches

CHECK = "backup"
MAX_INTERVAL = timedelta(hours=24)
SNAPSHOT_LABEL = "velero.io/csi-volumesnapshot-class"
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@hourly": "0 * * * *"}
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")


@functools.lru_cache(maxsize=256)
def longest_interval(expression: str) -> timedelta:
    """The longest gap between two runs of a Velero schedule (cron or ``@every <duration>``).

    Raises ValueError for an expression Velero would not accept.
    """
    expr = expression.strip()
    if expr.startswith("@every "):
        parts = _GO_DURATION.findall(expr[len("@every "):].replace(" ", ""))
        if not parts:
            raise ValueError(f"{expression!r}: '@every' needs a duration such as 24h")
        unit = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
        return timedelta(seconds=sum(float(n) * unit[u] for n, u in parts))
    expr = _MACROS.get(expr, expr)
    if not croniter.is_valid(expr):
        raise ValueError(f"{expression!r} is not a valid cron expression")
    # Walk up to a leap year from a fixed start (enough for monthly and yearly patterns); a
    # frequent schedule stops after a few thousand runs, its gaps being short anyway.
    start = datetime(2024, 1, 1)
    it = croniter(expr, start)
    previous = it.get_next(datetime)
    longest = timedelta(0)
    for _ in range(5000):
        current = it.get_next(datetime)
        longest = max(longest, current - previous)
        if current - start > timedelta(days=400):
            break
        previous = current
    return longest


def _selected(schedule: K8sObject, workload: Workload) -> bool:
    template = schedule.spec.get("template") or {}
    if template.get("snapshotVolumes") is False and template.get("defaultVolumesToFsBackup") is not True:
        return False
    selectors = list(template.get("orLabelSelectors") or [])
    if template.get("labelSelector"):
        selectors.append(template["labelSelector"])
    if not selectors:
        return True  # no selector: the whole namespace is backed up
    return any(selector_matches(s, workload.pod_labels) for s in selectors)


def _covers_namespace(schedule: K8sObject, namespace: str) -> bool:
    template = schedule.spec.get("template") or {}
    included = template.get("includedNamespaces") or ["*"]  # Velero: unspecified means all
    excluded = template.get("excludedNamespaces") or []
    return (namespace in included or "*" in included) and namespace not in excluded


def backup(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Velero Schedule(s) back up every PVC-backed workload daily with a TTL; CSI class labelled."""
    out: list[Finding] = []
    ns = manifest.namespace
    schedules = [o for o in manifest.of_kind("Schedule") if o.api_version.startswith("velero.io/")]
    if not schedules:
        out.append(Finding(CHECK, "backup", "velero.io Schedule", "at least one", "none rendered"))
    for s in schedules:
        template = s.spec.get("template") or {}
        if not _covers_namespace(s, ns):
            out.append(Finding(CHECK, s.key, "spec.template.includedNamespaces",
                               f"includes {ns}", str(template.get("includedNamespaces"))))
        expr = str(s.spec.get("schedule", ""))
        try:
            gap = longest_interval(expr)
            if gap > MAX_INTERVAL:
                out.append(Finding(CHECK, s.key, "spec.schedule", "a run at least every 24h",
                                   f"{expr!r} leaves up to {gap} between runs"))
        except ValueError as exc:
            out.append(Finding(CHECK, s.key, "spec.schedule", "a valid cron expression", str(exc)))
        if not template.get("ttl"):
            out.append(Finding(CHECK, s.key, "spec.template.ttl", "set (backup retention)", "missing"))
    covering = [s for s in schedules if _covers_namespace(s, ns)]
    for w in manifest.workloads.values():
        if w.stateful and covering and not any(_selected(s, w) for s in covering):
            out.append(Finding(CHECK, w.key, "pods and volumes selected by a Velero Schedule",
                               "selected (labelSelector matches pod labels, volumes snapshotted)",
                               f"not selected; pod labels {dict(w.pod_labels)}"))
    classes = [o for o in manifest.of_kind("VolumeSnapshotClass")
               if str(o.labels.get(SNAPSHOT_LABEL, "")).lower() == "true"]
    if not classes:
        out.append(Finding(CHECK, "backup", f"VolumeSnapshotClass labelled {SNAPSHOT_LABEL}: \"true\"",
                           "one", "none rendered"))
    return out
