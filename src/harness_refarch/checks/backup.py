"""Backup and restore: every stateful workload's pods and volumes backed up often enough.

What counts as backup evidence is data (``fixtures/backup.yaml``): Velero Schedules and one-off
Backups, VolumeSnapshotClasses labelled for Velero's CSI support, and database backup CronJobs
recognised by the dump tool they run. The evidence comes from the render or, since released
Harness charts render no backup objects (Harness documents backup as an operator-installed
Velero), from the operator's own manifests given with ``--refarch-manifests``.

The check proves coverage with Velero's semantics: a Schedule backs up a workload when its
namespaces include the release namespace (unset or ``*``: all), its label selector
(``labelSelector`` or any of ``orLabelSelectors``; none or empty: everything) matches the pod
labels, its resource filters keep pods, PVCs and PVs (Velero adds a selected pod's PVCs and their
PVs to the backup), and its volumes are snapshotted (``snapshotVolumes`` not false) or backed up
through the file system. A workload needs one covering schedule that runs at least as often as
the data says, is not paused, and whose TTL keeps at least one full cycle.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from harness_refarch.checks.registry import Context, check
from harness_refarch.model.catalog import Pair, load_yaml
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import SAFE_LOADER, K8sObject, Manifest, Workload, parse_manifest, yaml_problem
from harness_refarch.model.yaml_limits import LIMITS_TEXT, YamlLimitError, check_all

CHECK = "backup"
SNAPSHOT_LABEL = "velero.io/csi-volumesnapshot-class"
OPTION = "--refarch-manifests"
EXAMPLE = "fixtures/examples/velero-backup.yaml"
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@hourly": "0 * * * *"}
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_GO_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|us|µs|ns|m|s))+|0")
# Velero resource names (and their short names) a backup of volumes needs.
_RESOURCES = {
    "pods": ("pods", "pod", "po"),
    "persistentvolumeclaims": ("persistentvolumeclaims", "persistentvolumeclaim", "pvc"),
    "persistentvolumes": ("persistentvolumes", "persistentvolume", "pv"),
}
_FS_OPT_IN = "backup.velero.io/backup-volumes"
_FS_OPT_OUT = "backup.velero.io/backup-volumes-excludes"
# Workloads whose pods run only now and then: Velero finds a volume through a running pod.
_TRANSIENT = ("Job", "CronJob")


# -- durations and schedules ----------------------------------------------------------------------
def go_duration(text: str) -> timedelta:
    """A Go duration (``720h0m0s``, ``1h30m``, ``1500ms``) as Velero's ``ttl`` and ``@every`` take it.

    Raises ValueError for anything Go's ``time.ParseDuration`` would refuse (no unit, unknown unit).
    """
    compact = text.strip().replace(" ", "")
    if not _GO_DURATION.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration such as 720h0m0s")
    return timedelta(seconds=sum(float(n) * _GO_UNITS[u] for n, u in _GO_PART.findall(compact)))


def human(delta: timedelta) -> str:
    """``168h (7 days)``, ``24h``, ``1h30m0s``: the units Velero users write, with days when long."""
    seconds = delta.total_seconds()
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        days = f" ({hours // 24} days)" if hours % 24 == 0 and hours >= 48 else ""
        return f"{hours}h{days}"
    total_minutes, secs = divmod(seconds, 60)
    whole_hours, minutes = divmod(total_minutes, 60)
    return f"{int(whole_hours)}h{int(minutes)}m{secs:g}s"


@functools.lru_cache(maxsize=256)
def longest_interval(expression: str) -> timedelta:
    """The longest gap between two runs of a Velero schedule (cron or ``@every <duration>``).

    Raises ValueError for an expression Velero would not accept.
    """
    expr = expression.strip()
    if expr.startswith("@every"):
        rest = expr[len("@every"):].strip()
        if not rest or not _GO_DURATION.fullmatch(rest.replace(" ", "")):
            raise ValueError(f"{expression!r}: '@every' needs a duration such as 24h")
        return go_duration(rest)
    expr = _MACROS.get(expr, expr)
    if not croniter.is_valid(expr) or len(expr.split()) != 5:
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


# -- the data: what counts as backup evidence --------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """Objects of one API group and kind, optionally carrying labels."""

    group: str
    kind: str
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, obj: K8sObject) -> bool:
        group = obj.api_version.rpartition("/")[0]
        return (obj.kind == self.kind and group == self.group
                and all(str(obj.labels.get(k, "")).lower() == v.lower() for k, v in self.labels))

    def describe(self) -> str:
        labels = ", ".join(f'{k}: "{v}"' for k, v in self.labels)
        return f"{self.group} {self.kind}" + (f" labelled {labels}" if labels else "")


@dataclass(frozen=True)
class BackupJob:
    """A database dump tool: a CronJob running it backs up workloads running ``images``."""

    tool: str
    runs: re.Pattern[str]
    images: tuple[str, ...]

    def covers(self, workload: Workload) -> bool:
        return any(pattern in _repository(c.image) for c in workload.main_containers for pattern in self.images)


@dataclass(frozen=True)
class Policy:
    """``fixtures/backup.yaml``: the cadence Harness documents and what counts as evidence."""

    max_interval: timedelta
    min_ttl_cycles: float
    schedules: tuple[Kind, ...]
    one_off: tuple[Kind, ...]
    snapshot_classes: tuple[Kind, ...]
    jobs: tuple[BackupJob, ...]

    def evidence_kinds(self) -> str:
        kinds = [k.describe() for k in (*self.schedules, *self.one_off, *self.snapshot_classes)]
        return ", ".join([*kinds, "CronJobs running " + " / ".join(j.tool for j in self.jobs)])


def _kinds(doc: Mapping[str, Any], key: str, path: Path) -> tuple[Kind, ...]:
    out = []
    for entry in doc.get(key) or []:
        if not isinstance(entry, dict) or not entry.get("kind") or "group" not in entry:
            raise RefarchError(f"The backup data {path} is malformed: each entry of '{key}' needs a group and a "
                               "kind, e.g. {group: velero.io, kind: Schedule}. Fix the file.")
        labels = tuple(sorted((str(k), str(v)) for k, v in (entry.get("labels") or {}).items()))
        out.append(Kind(str(entry["group"]), str(entry["kind"]), labels))
    return tuple(out)


def load_policy(path: Path) -> Policy:
    """Read the backup data; a missing or malformed file is one paragraph naming it."""
    if not path.is_file():
        raise RefarchError(f"The reference-architecture data has no backup data file {path}: it says what counts "
                           "as backup evidence and how often backups must run. Copy fixtures/backup.yaml of the "
                           "harness-refarch repository next to architectures.yaml.")
    doc = load_yaml(path, "backup data")
    if not isinstance(doc, dict):
        raise RefarchError(f"The backup data {path} must be a mapping (max_interval, schedules, ...). Fix the file.")
    try:
        jobs = tuple(BackupJob(str(j["tool"]), re.compile(str(j["runs"])), tuple(str(i) for i in j["images"]))
                     for j in doc.get("jobs") or [])
        policy = Policy(
            max_interval=go_duration(str(doc["max_interval"])),
            min_ttl_cycles=float(doc.get("min_ttl_cycles", 1)),
            schedules=_kinds(doc, "schedules", path), one_off=_kinds(doc, "one_off", path),
            snapshot_classes=_kinds(doc, "snapshot_classes", path), jobs=jobs)
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise RefarchError(f"The backup data {path} is malformed ({type(exc).__name__}: {exc}). It needs "
                           "max_interval (a duration such as 168h) and lists schedules, one_off, snapshot_classes "
                           "and jobs (tool, runs, images); compare it with fixtures/backup.yaml.") from None
    if not policy.schedules and not policy.jobs:
        raise RefarchError(f"The backup data {path} names no schedule kind and no backup job: nothing could ever "
                           "count as a scheduled backup. Fix the file.")
    return policy


@dataclass(frozen=True, eq=False)
class Evidence:
    """The backup data and the operator's manifests (``--refarch-manifests``), for every pair."""

    policy: Policy
    manifests: tuple[Manifest, ...] = field(default=())

    def objects(self, render: Manifest) -> list[tuple[K8sObject, str]]:
        """(object, where it comes from): the render's objects, then the operator's."""
        out = [(o, "") for o in render.objects]
        for m in self.manifests:
            out += [(o, m.source) for o in m.objects]
        return out

    def workloads(self, render: Manifest) -> list[tuple[Workload, str]]:
        out = [(w, "") for w in render.workloads.values()]
        for m in self.manifests:
            out += [(w, m.source) for w in m.workloads.values()]
        return out


def load_manifests(paths: Sequence[Path], namespace: str, policy: Policy) -> tuple[Manifest, ...]:
    """Parse the operator's manifest files with the render's safe parser, each checked up front.

    A file that cannot be read, is not YAML, holds something other than Kubernetes objects or
    holds no backup object is one paragraph naming the file (never quoting it: it may hold
    credentials).
    """
    out = []
    for path in paths:
        where = f"The manifest file {path} given with {OPTION}"
        if not path.is_file():
            raise RefarchError(f"{where} does not exist or is not a file. Check the path (relative paths start at "
                               "the current directory); pass each file with its own option.")
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise RefarchError(f"{where} cannot be read: {exc.strerror or exc}. Check its permissions.") from None
        except UnicodeDecodeError as exc:
            raise RefarchError(f"{where} is not UTF-8 text (invalid byte at offset {exc.start}); pass the YAML "
                               "manifests (kubectl get schedule -n velero -o yaml), not a binary or archive.") from None
        try:
            check_all(text, SAFE_LOADER)
        except YamlLimitError as exc:
            raise RefarchError(f"{where} is refused: {exc}. Manifest files are bounded to {LIMITS_TEXT}.") from None
        except yaml.YAMLError as exc:
            raise RefarchError(f"{where} is not valid YAML ({yaml_problem(exc)}). Fix the file (kubectl and "
                               "yamllint point at the line).") from None
        manifest = parse_manifest(text, namespace, source=path.name)
        if manifest.problems:
            first = manifest.problems[0]
            raise RefarchError(f"{where} is not a stream of Kubernetes objects: {first.workload} {first.field}: "
                               f"expected {first.expected}, got {first.actual}. Each YAML document must be one "
                               "object with apiVersion, kind and metadata.")
        if not any(_evidence_object(o, policy) for o in manifest.objects) and not any(
                _backup_job(w, policy) for w in manifest.workloads.values()):
            kinds = ", ".join(sorted({o.key for o in manifest.objects})[:5]) or "no object at all"
            raise RefarchError(f"{where} holds no backup object ({kinds}). The backup check reads "
                               f"{policy.evidence_kinds()}; see {EXAMPLE}.")
        out.append(manifest)
    return tuple(out)


def _evidence_object(obj: K8sObject, policy: Policy) -> bool:
    return any(k.matches(obj) for k in (*policy.schedules, *policy.one_off, *policy.snapshot_classes))


def _repository(image: str) -> str:
    """``docker.io/bitnami/mongodb:6.0@sha256:...`` -> ``docker.io/bitnami/mongodb`` (lower case)."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition("/")
    return f"{head}/{tail.split(':', 1)[0]}".lstrip("/").lower()


def _backup_job(w: Workload, policy: Policy) -> BackupJob | None:
    """The dump tool a CronJob runs, if it runs one of the data's."""
    if w.kind != "CronJob":
        return None
    for raw in w.pod_spec.get("containers") or []:
        text = " ".join(str(part) for part in [raw.get("image", ""), *(raw.get("command") or []),
                                                *(raw.get("args") or [])])
        for job in policy.jobs:
            if job.runs.search(text):
                return job
    return None


# -- Velero semantics ------------------------------------------------------------------------------------
def _template(schedule: K8sObject) -> Mapping[str, Any]:
    return schedule.spec.get("template") or {}


def _namespace_problem(schedule: K8sObject, namespace: str) -> str | None:
    """Velero's namespace filter: unset or ``*`` includes all; names may be glob patterns
    (``harness-*``, as current Velero releases accept); an exclusion wins."""
    t = _template(schedule)
    included = [str(n) for n in t.get("includedNamespaces") or []] or ["*"]  # Velero: unset means all
    excluded = [str(n) for n in t.get("excludedNamespaces") or []]
    if any(fnmatch.fnmatchcase(namespace, n) for n in excluded):
        return f"excludedNamespaces {excluded} leaves out namespace {namespace}"
    if not any(fnmatch.fnmatchcase(namespace, n) for n in included):
        return f"includedNamespaces {included} leaves out namespace {namespace}"
    return None


def _resource_problem(schedule: K8sObject) -> tuple[str, str, str] | None:
    """The resource filter that drops pods, PVCs or PVs (Velero's old and new filter fields)."""
    t = _template(schedule)
    scoped = {"pods": "NamespaceScoped", "persistentvolumeclaims": "NamespaceScoped",
              "persistentvolumes": "ClusterScoped"}
    for resource, aliases in _RESOURCES.items():
        for prefix in ("", scoped[resource]):
            included = [str(r).lower() for r in t.get(f"included{prefix}Resources") or []]
            excluded = [str(r).lower() for r in t.get(f"excluded{prefix}Resources") or []]
            expected = "keeps pods, persistentvolumeclaims and persistentvolumes"
            if any(a in excluded for a in aliases) or "*" in excluded:
                return f"spec.template.excluded{prefix}Resources", expected, f"{excluded} drops {resource}"
            if included and "*" not in included and not any(a in included for a in aliases):
                return f"spec.template.included{prefix}Resources", expected, f"{included} leaves out {resource}"
    return None


def _velero_match(selector: Any, labels: Mapping[str, str]) -> bool:
    """A Kubernetes LabelSelector as Velero evaluates it: an empty selector selects everything."""
    if not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels") or {}
    if any(labels.get(str(k)) != str(v) for k, v in match_labels.items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        present = key in labels
        if (op == "In" and (not present or labels[key] not in values)) or (
                op == "NotIn" and present and labels[key] in values) or (
                op == "Exists" and not present) or (op == "DoesNotExist" and present) or op not in (
                "In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def describe_selector(selector: Any) -> str:
    """``app.kubernetes.io/name in (mongodb, redis), tier=db``, as kubectl would print it."""
    if not isinstance(selector, Mapping):
        return repr(selector)
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ", ".join(map(str, expr.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": str(key),
                      "DoesNotExist": f"!{key}"}.get(str(op), f"{key} {op} ({values})"))
    return ", ".join(parts) or "{} (everything)"


def _label_problem(schedule: K8sObject, w: Workload) -> tuple[str, str, str] | None:
    t = _template(schedule)
    labels = w.pod_labels
    expected = f"selects the pods of {w.key} (Velero adds their PVCs and volumes)"
    if "labelSelector" in t and t["labelSelector"] is not None:
        if _velero_match(t["labelSelector"], labels):
            return None
        return "spec.template.labelSelector", expected, (f"{describe_selector(t['labelSelector'])} does not match "
                                                         f"the pod labels {dict(labels)}")
    selectors = t.get("orLabelSelectors") or []
    if not selectors or any(_velero_match(s, labels) for s in selectors):
        return None
    described = " | ".join(describe_selector(s) for s in selectors)
    return "spec.template.orLabelSelectors", expected, f"none of {described} matches the pod labels {dict(labels)}"


def _volumes(w: Workload) -> list[str]:
    """The pod volume names that hold the workload's data: claim templates and PVC volumes."""
    names = [str((t.get("metadata") or {}).get("name", "")) for t in w.volume_claim_templates]
    names += [str(v.get("name", "")) for v in w.pod_spec.get("volumes") or [] if v.get("persistentVolumeClaim")]
    return list(dict.fromkeys(names))


def _volume_problem(schedule: K8sObject, w: Workload) -> tuple[str, str, str] | None:
    t = _template(schedule)
    if t.get("snapshotVolumes") is not False:
        return None  # unset or true: Velero snapshots the volumes of the PVCs it backs up
    annotations = (w.pod_template.get("metadata") or {}).get("annotations") or {}
    opt_in = {v.strip() for v in str(annotations.get(_FS_OPT_IN, "")).split(",") if v.strip()}
    opt_out = {v.strip() for v in str(annotations.get(_FS_OPT_OUT, "")).split(",") if v.strip()}
    fs_default = t.get("defaultVolumesToFsBackup") is True
    missing = [v for v in _volumes(w) if not ((fs_default and v not in opt_out) or v in opt_in)]
    if not missing:
        return None
    return ("spec.template.snapshotVolumes", f"the volumes of {w.key} backed up (snapshotVolumes not false)",
            f"false, and volumes {', '.join(missing)} are not backed up through the file system either "
            f"(defaultVolumesToFsBackup, or the pod annotation {_FS_OPT_IN})")


# -- the check -----------------------------------------------------------------------------------------
def _hint(origin: str) -> str:
    return f"from {OPTION} {origin}" if origin else ""


def _cadence(obj: K8sObject, origin: str, expr: str, policy: Policy) -> tuple[list[Finding], timedelta | None]:
    try:
        gap = longest_interval(expr)
    except ValueError as exc:
        return [Finding(CHECK, obj.key, "spec.schedule", "a valid cron expression", str(exc), _hint(origin))], None
    if gap > policy.max_interval:
        return [Finding(CHECK, obj.key, "spec.schedule", f"a run at least every {human(policy.max_interval)}",
                        f"{expr!r} leaves up to {human(gap)} between runs", _hint(origin))], gap
    return [], gap


def _schedule_defects(s: K8sObject, origin: str, policy: Policy) -> list[Finding]:
    """What keeps a Velero Schedule that selects a workload from being a sufficient backup of it."""
    hint = _hint(origin)
    t = _template(s)
    out: list[Finding] = []
    if s.spec.get("paused") is True:
        out.append(Finding(CHECK, s.key, "spec.paused", "false (the schedule runs)", "true", hint))
    if t.get("labelSelector") is not None and t.get("orLabelSelectors"):
        out.append(Finding(CHECK, s.key, "spec.template.labelSelector",
                           "only one of labelSelector and orLabelSelectors (Velero refuses a backup with both)",
                           "both set", hint))
    cadence, gap = _cadence(s, origin, str(s.spec.get("schedule") or ""), policy)
    out += cadence
    cycle = (gap or policy.max_interval) * policy.min_ttl_cycles
    expected = f"at least {human(cycle)}: one full cycle between runs"
    ttl = t.get("ttl")
    if ttl in (None, ""):
        out.append(Finding(CHECK, s.key, "spec.template.ttl", expected,
                           "missing (Velero's server default applies, which no manifest shows)", hint))
    else:
        try:
            kept = go_duration(str(ttl))
        except ValueError as exc:
            out.append(Finding(CHECK, s.key, "spec.template.ttl", expected, str(exc), hint))
        else:
            if kept < cycle:
                out.append(Finding(CHECK, s.key, "spec.template.ttl", expected,
                                   f"{ttl!s} = {human(kept)}: backups expire before the next run", hint))
    return out


def _job_defects(w: Workload, origin: str, policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    if w.obj.spec.get("suspend") is True:
        out.append(Finding(CHECK, w.key, "spec.suspend", "false (the job runs)", "true", _hint(origin)))
    out += _cadence(w.obj, origin, str(w.obj.spec.get("schedule") or ""), policy)[0]
    return out


def _describe(objects: Iterable[tuple[K8sObject, str]]) -> str:
    parts = [o.key + (f" ({origin})" if origin else "") for o, origin in objects]
    return ", ".join(sorted(parts)) or "nothing"


def no_evidence(namespace: str) -> Finding:
    """The one finding of a pair with no backup object anywhere."""
    return Finding(
        CHECK, "backup", "backup objects",
        f"a Velero Schedule backing up namespace {namespace} with a labelled CSI VolumeSnapshotClass (or a "
        f"database backup CronJob), rendered by the chart or given with {OPTION}",
        f"the chart renders no backup objects and no {OPTION} were given",
        "Harness documents backup as an operator-installed Velero: pass your Schedule and VolumeSnapshotClass "
        f"with {OPTION} velero-schedule.yaml; {EXAMPLE} is an example")


def backup(spec: Pair, manifest: Manifest, evidence: Evidence) -> list[Finding]:
    """Every stateful workload's pods and volumes are backed up by a schedule that runs often enough."""
    policy = evidence.policy
    ns = manifest.namespace
    objects = evidence.objects(manifest)
    schedules = [(o, origin) for o, origin in objects if any(k.matches(o) for k in policy.schedules)]
    one_off = [(o, origin) for o, origin in objects if any(k.matches(o) for k in policy.one_off)]
    classes = [(o, origin) for o, origin in objects if any(k.matches(o) for k in policy.snapshot_classes)]
    jobs = [(w, origin, job) for w, origin in evidence.workloads(manifest)
            if (job := _backup_job(w, policy)) is not None]
    if not (schedules or one_off or classes or jobs):
        return [no_evidence(ns)]

    relevant = [(s, origin) for s, origin in schedules if _namespace_problem(s, ns) is None]
    if not relevant and not jobs:
        found = [*schedules, *one_off, *classes]
        reasons = "; ".join(f"{s.key}: {_namespace_problem(s, ns)}" for s, _ in schedules)
        return [Finding(CHECK, "backup", "backup schedule",
                        f"a Velero Schedule that includes namespace {ns} (or a database backup CronJob), "
                        f"running at least every {human(policy.max_interval)}",
                        f"none; found {_describe(found)}" + (f" ({reasons})" if reasons else ""),
                        "a one-off Backup runs once; a schedule proves the cadence" if one_off else "")]

    out: list[Finding] = []
    stateful = [w for w in manifest.workloads.values() if w.stateful and w.kind not in _TRANSIENT]
    defects = {s.key + origin: _schedule_defects(s, origin, policy) for s, origin in relevant}
    job_defects = {w.key + origin: _job_defects(w, origin, policy) for w, origin, _ in jobs}
    snapshots_needed = False
    for w in stateful:
        covering: list[list[Finding]] = []
        misses: list[Finding] = []
        for s, origin in relevant:
            problems = [p for p in (_resource_problem(s), _label_problem(s, w), _volume_problem(s, w)) if p]
            if problems:
                misses += [Finding(CHECK, w.key, f"{s.key} {f}", e, a, _hint(origin)) for f, e, a in problems]
                continue
            covering.append(defects[s.key + origin])
            snapshots_needed |= _template(s).get("snapshotVolumes") is not False
        for job_workload, origin, job in jobs:
            if job.covers(w):
                covering.append(job_defects[job_workload.key + origin])
            else:
                images = ", ".join(sorted({c.image for c in w.main_containers}))
                misses.append(Finding(CHECK, w.key, f"{job_workload.key} (runs {job.tool})",
                                      f"backs up the data of {w.key}",
                                      f"{job.tool} backs up {' or '.join(job.images)} images; {w.key} runs {images}",
                                      _hint(origin)))
        if not covering:
            out += misses
        elif all(covering):  # every covering schedule falls short: say how each does
            out += [f for found in covering for f in found]
    if not stateful:  # nothing stateful: the namespace itself needs one sufficient schedule
        candidates = [*defects.values(), *job_defects.values()]
        if candidates and all(candidates):
            out += [f for found in candidates for f in found]
    if snapshots_needed:
        out += _snapshot_class_findings(classes)
    return sorted(set(out))


def _snapshot_class_findings(classes: list[tuple[K8sObject, str]]) -> list[Finding]:
    field_name = f'VolumeSnapshotClass labelled {SNAPSHOT_LABEL}: "true"'
    if not classes:
        return [Finding(CHECK, "backup", field_name, "one per CSI driver (Velero's CSI snapshots use it)",
                        f"none rendered or given with {OPTION}")]
    by_driver: dict[str, list[str]] = {}
    for obj, _ in classes:
        keys = by_driver.setdefault(str(obj.body.get("driver", "")), [])
        if obj.key not in keys:  # the same object in the render and a manifest file is one object
            keys.append(obj.key)
    return [Finding(CHECK, ", ".join(sorted(keys)), "driver",
                    f"one VolumeSnapshotClass labelled {SNAPSHOT_LABEL} per CSI driver (Velero cannot choose)",
                    f"{len(keys)} for driver {driver}") for driver, keys in sorted(by_driver.items()) if len(keys) > 1]


__all__ = ["CHECK", "BackupJob", "Evidence", "Kind", "Policy", "backup", "describe_selector", "go_duration",
           "human", "load_manifests", "load_policy", "longest_interval", "no_evidence"]


@check("velero_backup", findings=(CHECK,), where={"backup": True}, diff=True, context=True,
       doc="Backup and restore where the architecture requires it: the render's or the operator's backup objects "
           "(--refarch-manifests) cover every stateful workload (fixtures/backup.yaml).")
def velero_backup(ctx: Context, spec: Pair, manifest: Manifest) -> list[Finding]:
    """:func:`backup` with the run's backup data and the operator's manifests."""
    return backup(spec, manifest, ctx.backup_evidence)
