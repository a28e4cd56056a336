"""What changes between two renders of one (profile, architecture) pair, OLD chart vs NEW chart.

Release qualification asks three questions of chart version N+1, and each has its function here:

* :func:`diff_pair`: what changed for my profile? Per workload (identified by
  :func:`~harness_refarch.model.identity.object_identity`, so helm-generated random name parts do
  not show as "removed" and "added"): effective replicas, HPA bounds, requests and limits per
  container, images, storage; per database the hosts, schemes and TLS of the connection
  strings; the Velero Schedules and VolumeSnapshotClasses. The per-object summaries are
  compared with deepdiff, never with a hand-written differ.
* :func:`upgrade_blockers`: will ``helm upgrade`` from OLD to NEW go through without losing
  data? Kubernetes rejects changes of immutable fields (the upgrade fails half way), and some
  changes succeed but orphan or delete volumes. These compare objects by their exact kind and
  name, because that is how helm matches them on upgrade.
* :func:`regressions`: which checks does NEW fail that OLD passed?

Everything meant for people goes through :func:`harness_refarch.model.redact.mask`; Secret data is
never read (the manifest model has already replaced it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml
from deepdiff import DeepDiff

from harness_refarch.model.catalog import DatabaseExpectation
from harness_refarch.model.connections import connection_strings
from harness_refarch.model.findings import Finding
from harness_refarch.model.identity import identities
from harness_refarch.model.manifest import WORKLOAD_KINDS, K8sObject, Manifest, Workload
from harness_refarch.model.quantities import QuantityError, parse_quantity
from harness_refarch.model.redact import mask

CHECK = "upgrade"
ABSENT = "absent"
WORKLOADS, WIRING, BACKUP = "workloads", "database wiring", "backup"
SECTIONS = (WORKLOADS, WIRING, BACKUP)
SELECTOR_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
KEEP_POLICY = "helm.sh/resource-policy"
_IMMUTABLE_HINT = ("Kubernetes rejects a change of this immutable field, so `helm upgrade` fails; keep the "
                   "old value, or document a migration (delete the object with --cascade=orphan, then upgrade)")
_DATA_HINT = "the upgrade would leave the existing volume behind (data no longer mounted) or delete it"


# -- the diff --------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Change:
    """One difference: which section and object, which field, the OLD and NEW values (shown masked).

    ``field`` is empty when the whole object was added or removed.
    """

    section: str
    object: str
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class PairDiff:
    """Every change between the OLD and NEW render of one pair, sorted by section and object."""

    changes: tuple[Change, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    def section(self, name: str) -> list[Change]:
        return [c for c in self.changes if c.section == name]

    @property
    def added_workloads(self) -> list[str]:
        return [c.object for c in self.section(WORKLOADS) if not c.field and c.old == ABSENT]

    @property
    def removed_workloads(self) -> list[str]:
        return [c.object for c in self.section(WORKLOADS) if not c.field and c.new == ABSENT]


def show(value: Any) -> str:
    """A whole value as one masked string (mappings and lists as compact YAML flow)."""
    if value is None:
        return "none"
    if isinstance(value, dict | list | tuple):
        text = yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=True, width=10_000).strip()
    else:
        text = str(value)
    return mask(text)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, int | float | bool | str) or value is None else str(value)


def _resources(section: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in sorted((section or {}).items())}


def _claim_size(spec: Mapping[str, Any] | None) -> str | None:
    size = (((spec or {}).get("resources") or {}).get("requests") or {}).get("storage")
    return None if size is None else str(size)


def workload_summary(w: Workload, manifest: Manifest) -> dict[str, Any]:
    """What the diff compares for one workload: replicas, HPA, containers, storage."""
    entry: dict[str, Any] = {"replicas": w.replicas}
    if w.hpa is not None:
        entry["hpa"] = {"min": w.hpa.spec.get("minReplicas", 1), "max": w.hpa.spec.get("maxReplicas")}
    entry["containers"] = {
        c.name: {"image": c.image, "requests": _resources(c.resources.get("requests")),
                 "limits": _resources(c.resources.get("limits")), **({"init": True} if c.init else {})}
        for c in w.containers
    }
    storage = {f"volumeClaimTemplate {(v.get('metadata') or {}).get('name', '')}": _claim_size(v.get("spec"))
               for v in w.volume_claim_templates}
    for claim in w.pvc_names:
        pvc = manifest.get("PersistentVolumeClaim", claim)
        storage[f"PersistentVolumeClaim {claim}"] = _claim_size(pvc.spec) if pvc is not None else "not rendered"
    if storage:
        entry["storage"] = storage
    return entry


def wiring_summary(manifest: Manifest, databases: Mapping[str, DatabaseExpectation] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """Per database: the hosts, schemes and TLS of its connection strings (never userinfo)."""
    out: dict[str, dict[str, Any]] = {}
    for uri in connection_strings(manifest, databases):
        entry = out.setdefault(uri.db, {"hosts": set(), "schemes": set(), "tls": set()})
        entry["hosts"].update(h.lower() for h in uri.hosts)
        entry["schemes"].add(uri.inner_scheme or uri.scheme)
        entry["tls"].add("on" if uri.tls else "off")
    return {db: {"hosts": _by_host(e["hosts"]), "schemes": sorted(e["schemes"]),
                 "tls": e["tls"].pop() if len(e["tls"]) == 1 else "mixed"}
            for db, e in sorted(out.items())}


def _by_host(hosts: Iterable[str]) -> dict[str, str]:
    """``{host: "host:port[, host:port]"}``: OLD and NEW hosts are paired by host name, never by their
    position in a sorted list (a new host next to an old one is an addition, not a change)."""
    ports: dict[str, set[str]] = {}
    for entry in hosts:
        name, port = _split_host(entry)
        ports.setdefault(name, set()).update([port] if port else [])
    return {name: ", ".join(f"{name}:{port}" for port in sorted(p)) or name for name, p in sorted(ports.items())}


def _split_host(entry: str) -> tuple[str, str]:
    if entry.startswith("["):
        name, _, port = entry[1:].partition("]")
        return name, port.lstrip(":")
    name, sep, port = entry.rpartition(":")
    return (name, port) if sep and port.isdigit() else (entry, "")


def backup_summary(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Velero Schedules (schedule, TTL, namespaces, selectors) and VolumeSnapshotClasses."""
    out: dict[str, dict[str, Any]] = {}
    schedules = [o for o in manifest.of_kind("Schedule") if o.api_version.startswith("velero.io/")]
    for ident, obj in identities(schedules).items():
        template = obj.spec.get("template") or {}
        out[ident] = {"schedule": obj.spec.get("schedule"), "ttl": template.get("ttl"),
                      "includedNamespaces": template.get("includedNamespaces"),
                      "labelSelector": template.get("labelSelector"),
                      "orLabelSelectors": template.get("orLabelSelectors"),
                      "snapshotVolumes": template.get("snapshotVolumes")}
    for ident, obj in identities(manifest.of_kind("VolumeSnapshotClass")).items():
        out[ident] = {"driver": obj.body.get("driver"), "deletionPolicy": obj.body.get("deletionPolicy"),
                      "labels": dict(obj.labels)}
    return {k: {f: v for f, v in entry.items() if v is not None} for k, entry in out.items()}


def summaries(manifest: Manifest, databases: Mapping[str, DatabaseExpectation] | None = None
              ) -> dict[str, dict[str, Any]]:
    """The three comparable views of one render, keyed by section then object identity."""
    workloads = identities(w.obj for w in manifest.workloads.values())
    return {
        WORKLOADS: {ident: workload_summary(manifest.workloads[obj.key], manifest)
                    for ident, obj in workloads.items()},
        WIRING: wiring_summary(manifest, databases),
        BACKUP: backup_summary(manifest),
    }


def _field(path: Sequence[Any]) -> str:
    """``['containers', 'ng-manager', 'requests', 'cpu']`` -> ``container ng-manager requests.cpu``."""
    parts = [str(p) for p in path if not isinstance(p, int)]  # list positions carry no meaning here
    if len(parts) >= 2 and parts[0] == "containers":
        rest = ".".join(parts[2:])
        return f"container {parts[1]}" + (f" {rest}" if rest else "")
    if len(parts) >= 2 and parts[0] == "storage":
        return " ".join(parts[1:]) + " storage"
    if len(parts) == 2 and parts[0] == "hosts":
        return f"host {parts[1]}"
    return ".".join(parts)


def _same_quantity(path: Sequence[Any], old: Any, new: Any) -> bool:
    """``2`` vs ``2000m`` or ``1Gi`` vs ``1024Mi``: a different spelling, not a change."""
    if not any(p in ("requests", "limits", "storage") for p in path[:-1]):
        return False
    try:
        return bool(parse_quantity(old) == parse_quantity(new))
    except QuantityError:
        return False


def compare_entries(section: str, obj: str, old: Any, new: Any) -> list[Change]:
    """Field-by-field changes of one object's summary, found by deepdiff."""
    out: list[Change] = []
    diff = DeepDiff(old or {}, new or {}, view="tree", ignore_order=True, threshold_to_diff_deeper=0)
    for change_type, items in diff.items():
        for item in items:
            path = item.path(output_format="list")
            if change_type.endswith("_added"):
                before, after = ABSENT, show(item.t2)
            elif change_type.endswith("_removed"):
                before, after = show(item.t1), ABSENT
            else:
                if _same_quantity(path, item.t1, item.t2):
                    continue
                before, after = show(item.t1), show(item.t2)
            out.append(Change(section, obj, _field(path) or "(whole entry)", before, after))
    return out


def diff_summaries(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> PairDiff:
    """Objects added, removed and changed, section by section (see :func:`summaries`)."""
    out: list[Change] = []
    for section in SECTIONS:
        before, after = old.get(section) or {}, new.get(section) or {}
        for obj in sorted(set(before) - set(after)):
            out.append(Change(section, obj, "", show(before[obj]) if section != WORKLOADS else "rendered", ABSENT))
        for obj in sorted(set(after) - set(before)):
            out.append(Change(section, obj, "", ABSENT, show(after[obj]) if section != WORKLOADS else "rendered"))
        for obj in sorted(set(before) & set(after)):
            out += sorted(compare_entries(section, obj, before[obj], after[obj]))
    return PairDiff(tuple(out))


def diff_pair(old: Manifest, new: Manifest, databases: Mapping[str, DatabaseExpectation] | None = None) -> PairDiff:
    """What changed between the OLD and NEW render of one pair.

    ``databases`` (the architecture's expectations) lets external hosts be attributed to their
    database exactly as the wiring check does.
    """
    return diff_summaries(summaries(old, databases), summaries(new, databases))


# -- upgrade blockers ------------------------------------------------------------------------------
def _by_name(manifest: Manifest, *kinds: str) -> dict[tuple[str, str, str], K8sObject]:
    """Objects by (kind, namespace, exact name): what helm matches an upgrade's objects by."""
    out: dict[tuple[str, str, str], K8sObject] = {}
    for obj in manifest.of_kind(*kinds):
        out.setdefault((obj.kind, obj.namespace or manifest.namespace, obj.name), obj)
    return out


def _blocker(obj: K8sObject, field: str, old: Any, new: Any, hint: str = _IMMUTABLE_HINT) -> Finding:
    return Finding(CHECK, obj.key, field, show(old), show(new), hint)


def _storage(spec: Mapping[str, Any] | None) -> Decimal | None:
    size = _claim_size(spec)
    try:
        return None if size is None else parse_quantity(size)
    except QuantityError:
        return None


def _claim_spec_changes(obj: K8sObject, where: str, old: Mapping[str, Any], new: Mapping[str, Any],
                        storage_immutable: bool) -> list[Finding]:
    """Shrunk storage (never allowed) and changed class/access modes/volume mode of one claim.

    A volumeClaimTemplate is immutable as a whole (``storage_immutable``); a standalone
    PersistentVolumeClaim may grow where its StorageClass allows expansion.
    """
    out = []
    old_size, new_size = _storage(old), _storage(new)
    if storage_immutable and (old_size != new_size if old_size is not None and new_size is not None
                              else _claim_size(old) != _claim_size(new)):
        # the real reason, whichever way the size goes: Kubernetes rejects any change of a
        # StatefulSet's volumeClaimTemplates (the PVCs themselves could grow, never the template)
        out.append(_blocker(obj, f"{where}.resources.requests.storage", _claim_size(old), _claim_size(new),
                            "volumeClaimTemplates are immutable: `helm upgrade` fails; resize the existing "
                            "PVCs by hand and orphan-delete the StatefulSet, then upgrade"))
    elif old_size is not None and new_size is not None and new_size < old_size:
        out.append(_blocker(obj, f"{where}.resources.requests.storage", _claim_size(old), _claim_size(new),
                            "a PersistentVolumeClaim cannot shrink: Kubernetes rejects the smaller claim and "
                            "`helm upgrade` fails; keep the old size"))
    for key in ("storageClassName", "accessModes", "volumeMode"):
        if old.get(key) != new.get(key):
            out.append(_blocker(obj, f"{where}.{key}", old.get(key), new.get(key)))
    return out


def _vct_name(vct: Mapping[str, Any]) -> str:
    return str((vct.get("metadata") or {}).get("name", ""))


def _volume_claim_templates(old: K8sObject, new: K8sObject) -> list[Finding]:
    before = {_vct_name(v): v for v in old.spec.get("volumeClaimTemplates") or []}
    after = {_vct_name(v): v for v in new.spec.get("volumeClaimTemplates") or []}
    out = []
    for name in sorted(set(before) - set(after)):
        renamed = sorted(set(after) - set(before))
        now = f"renamed to {', '.join(renamed)}" if renamed else ABSENT
        out.append(Finding(CHECK, old.key, f"spec.volumeClaimTemplates[{name}]",
                           f"{name} (the PVCs {name}-{old.name}-N hold the data)", now,
                           f"volumeClaimTemplates are immutable, and {_DATA_HINT}: keep the template name"))
    for name in sorted(set(after) - set(before)):
        if not set(before) - set(after):
            out.append(Finding(CHECK, old.key, f"spec.volumeClaimTemplates[{name}]", ABSENT, "added",
                               "volumeClaimTemplates are immutable: `helm upgrade` fails"))
    for name in sorted(set(before) & set(after)):
        a, b = before[name], after[name]
        where = f"spec.volumeClaimTemplates[{name}].spec"
        found = _claim_spec_changes(old, where, a.get("spec") or {}, b.get("spec") or {}, storage_immutable=True)
        if not found and a != b:
            diff = DeepDiff(a, b, view="tree")
            paths = sorted({".".join(str(p) for p in i.path(output_format="list")) for items in diff.values()
                            for i in items})
            found.append(_blocker(old, f"spec.volumeClaimTemplates[{name}] ({', '.join(paths)})", a, b))
        out += found
    return out


def _workload_fields(old: K8sObject, new: K8sObject) -> list[Finding]:
    out = []
    if old.kind in SELECTOR_KINDS and (old.spec.get("selector") or {}) != (new.spec.get("selector") or {}):
        out.append(_blocker(old, "spec.selector", old.spec.get("selector"), new.spec.get("selector")))
    if old.kind == "StatefulSet":
        for key in ("serviceName", "podManagementPolicy"):
            if old.spec.get(key) != new.spec.get(key):
                out.append(_blocker(old, f"spec.{key}", old.spec.get(key), new.spec.get(key)))
        out += _volume_claim_templates(old, new)
    if old.kind == "Job" and not _is_hook(old) and old.spec.get("template") != new.spec.get("template"):
        diff = DeepDiff(old.spec.get("template") or {}, new.spec.get("template") or {}, view="tree")
        paths = sorted({".".join(str(p) for p in i.path(output_format="list")) for items in diff.values()
                        for i in items})
        shown = ", ".join(f"spec.template.{p}" for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        out.append(Finding(CHECK, old.key, "spec.template", "the OLD pod template (immutable in a Job)",
                           f"changed: {mask(shown)}",
                           "`helm upgrade` fails on a changed Job; make it a hook "
                           "(helm.sh/hook with before-hook-creation) or give it a new name per release"))
    return out


def _is_hook(obj: K8sObject) -> bool:
    return "helm.sh/hook" in ((obj.body.get("metadata") or {}).get("annotations") or {})


def _kept(obj: K8sObject) -> bool:
    annotations = (obj.body.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(KEEP_POLICY, "")).strip().lower() == "keep"


def _cluster_ip(old: K8sObject, new: K8sObject) -> list[Finding]:
    """clusterIP set on both and different, or headless (``None``) on one side only."""
    a, b = old.spec.get("clusterIP"), new.spec.get("clusterIP")
    if (a and b and a != b) or ((a == "None") != (b == "None")):
        return [_blocker(old, "spec.clusterIP", a if a else "allocated by the cluster",
                         b if b else "allocated by the cluster")]
    return []


def _pvcs(old: Manifest, new: Manifest) -> list[Finding]:
    before, after = _by_name(old, "PersistentVolumeClaim"), _by_name(new, "PersistentVolumeClaim")
    out = []
    for key in sorted(set(before) - set(after)):
        obj = before[key]
        if not _kept(obj):
            out.append(Finding(CHECK, obj.key, "PersistentVolumeClaim",
                               f"{_claim_size(obj.spec)} claim", "removed",
                               f"`helm upgrade` deletes a claim that leaves the chart, and its volume with it "
                               f"(unless annotated {KEEP_POLICY}: keep); keep the claim or migrate the data"))
    for key in sorted(set(before) & set(after)):
        out += _claim_spec_changes(before[key], "spec", before[key].spec, after[key].spec, storage_immutable=False)
    return out


def _pod_images(obj: K8sObject) -> set[str]:
    pod = (obj.spec.get("template") or {}).get("spec") or {}
    return {str(c.get("image", "")) for section in ("initContainers", "containers")
            for c in pod.get(section) or [] if c.get("image")}


def _pod_labels(obj: K8sObject) -> Mapping[str, Any]:
    return ((obj.spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def _renamed_statefulsets(old: Manifest, new: Manifest, old_names: set[tuple[str, str]],
                          new_names: set[tuple[str, str]]) -> list[Finding]:
    """A StatefulSet gone and another with the same pod labels or images new: its PVCs are orphaned."""
    gone = [o for o in old.of_kind("StatefulSet") if (o.namespace or old.namespace, o.name) not in new_names]
    fresh = [o for o in new.of_kind("StatefulSet") if (o.namespace or new.namespace, o.name) not in old_names]
    out = []
    for obj in gone:
        match = next((n for n in fresh if (_pod_labels(obj) and _pod_labels(n) == _pod_labels(obj))
                      or (_pod_images(obj) and _pod_images(n) == _pod_images(obj))), None)
        if match is None:
            continue
        fresh.remove(match)
        out.append(Finding(CHECK, obj.key, "metadata.name", f"{obj.name} (its PVCs hold the data)",
                           f"renamed to {match.key}",
                           f"the new StatefulSet's pods get new, empty PVCs and {_DATA_HINT}; keep the name "
                           "or migrate the volumes"))
    return out


def _kind_changes(old: Manifest, new: Manifest) -> list[Finding]:
    before = {(o.namespace or old.namespace, o.name): o for o in old.of_kind(*WORKLOAD_KINDS)}
    after: dict[tuple[str, str], list[K8sObject]] = {}
    for o in new.of_kind(*WORKLOAD_KINDS):
        after.setdefault((o.namespace or new.namespace, o.name), []).append(o)
    out = []
    for key, obj in sorted(before.items()):
        kinds = {o.kind for o in after.get(key, [])}
        if kinds and obj.kind not in kinds:
            out.append(Finding(CHECK, obj.key, "kind", obj.kind, ", ".join(sorted(kinds)),
                               "helm deletes the old workload and creates the new one: expect downtime, and a "
                               "StatefulSet's volumes are no longer mounted; plan a migration"))
    return out


def upgrade_blockers(old: Manifest, new: Manifest) -> list[Finding]:
    """Changes that make ``helm upgrade`` from OLD to NEW fail or lose data; one finding per
    object and field. Objects are matched by exact kind, namespace and name, as helm does."""
    out: list[Finding] = []
    kinds = (*WORKLOAD_KINDS, "Service")
    before, after = _by_name(old, *kinds), _by_name(new, *kinds)
    for key in sorted(set(before) & set(after)):
        a, b = before[key], after[key]
        out += _cluster_ip(a, b) if a.kind == "Service" else _workload_fields(a, b)
    out += _pvcs(old, new)
    old_names = {(o.namespace or old.namespace, o.name) for o in old.of_kind(*WORKLOAD_KINDS)}
    new_names = {(o.namespace or new.namespace, o.name) for o in new.of_kind(*WORKLOAD_KINDS)}
    out += _renamed_statefulsets(old, new, old_names, new_names)
    out += _kind_changes(old, new)
    return sorted(dict.fromkeys(out))


# -- regressions -----------------------------------------------------------------------------------
FindingsByCheck = Mapping[tuple[str, str], Sequence[Finding]]  # (pair id, check) -> findings


@dataclass(frozen=True)
class Regression:
    """A check that passed on OLD (no findings) and fails on NEW, for one pair."""

    pair: str
    check: str
    findings: tuple[Finding, ...]


def regressions(old_findings: FindingsByCheck, new_findings: FindingsByCheck) -> list[Regression]:
    """(pair, check) entries with no findings on OLD and findings on NEW.

    A check missing on the OLD side (not run, e.g. because OLD failed to render) did not pass,
    so it cannot regress; a check missing on the NEW side is not reported either.
    """
    out = []
    for key in sorted(set(old_findings) & set(new_findings)):
        if not old_findings[key] and new_findings[key]:
            out.append(Regression(key[0], key[1], tuple(sorted(set(new_findings[key])))))
    return out


def masked(finding: Finding) -> Finding:
    """A finding with every text field passed through :func:`mask`."""
    return Finding(finding.check, mask(finding.workload), mask(finding.field), mask(finding.expected),
                   mask(finding.actual), mask(finding.hint), mask(finding.source))


def all_masked(findings: Iterable[Finding]) -> list[Finding]:
    return [masked(f) for f in findings]
