"""Referential integrity of one render: what a cluster would reject or leave broken at install time.

``helm template`` happily renders a Service whose selector matches no pod, a pod that mounts a
Secret nothing creates, or an Ingress pointing at a port no Service has; the install then
"succeeds" and the product fails at runtime in the customer's cluster. This check follows every
reference between rendered objects, found generically by kind, selector and port (never by the
names of the embedded chart), and reports each dangling one naming the pod (or object), the kind
and the missing name.

Objects the chart expects to exist already (a TLS Secret, a pre-created database Secret) are
declared in ``fixtures/external-objects.yaml`` with a reason, or through the values (every
``existingSecret``/``secretName``); see :func:`load_external`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from harness_refarch.checks.registry import Context, check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import SAFE_LOADER, K8sObject, Manifest, Workload, selector_matches, yaml_problem

CHECK = "integrity"

# The kinds a pod can reference by name; the external-objects file may list only these.
REFERENCED_KINDS = ("ConfigMap", "Secret", "PersistentVolumeClaim", "ServiceAccount", "PriorityClass")
# Keys in the values whose string value names a Secret the installer creates beforehand.
SECRET_VALUE_KEYS = ("existingSecret", "secretName")
# Workload kinds whose spec.selector must select their own pod template (Jobs generate theirs).
SELECTOR_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
# Labels the StatefulSet controller puts on each pod, beyond the template's.
POD_NAME = "statefulset.kubernetes.io/pod-name"
POD_INDEX = "apps.kubernetes.io/pod-index"
# Cluster-scoped kinds: their identity has no namespace (parse_manifest fills one in for every object).
CLUSTER_SCOPED = frozenset({
    "Namespace", "PriorityClass", "StorageClass", "VolumeSnapshotClass", "PersistentVolume",
    "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "IngressClass", "RuntimeClass",
    "CSIDriver", "APIService", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
})


class ExternalObjectsError(RefarchError):
    """The external-objects file is unreadable or malformed."""


# -- objects declared to exist outside the chart --------------------------------------------------
@dataclass(frozen=True)
class ExternalEntry:
    """One declared object: a kind, a name or glob pattern, why it exists outside the chart."""

    kind: str
    pattern: str
    reason: str


@dataclass(frozen=True)
class External:
    """Objects the chart expects to exist before install: from the fixtures file and from values."""

    entries: tuple[ExternalEntry, ...] = ()
    # Secret name -> dotted values path that names it (e.g. "global.database.mongo.secretName").
    value_secrets: Mapping[str, str] = field(default_factory=dict)
    # Pod label keys that controllers set at run time (fixtures/runtime-labels.yaml) -> who sets them.
    runtime_labels: Mapping[str, str] = field(default_factory=dict)

    def declared(self, kind: str, name: str) -> str | None:
        """Why ``kind``/``name`` may be missing from the render (the reason), or ``None``."""
        if kind == "Secret" and name in self.value_secrets:
            return f"named by values {self.value_secrets[name]}"
        for entry in self.entries:
            if entry.kind == kind and fnmatchcase(name, entry.pattern):
                return entry.reason
        return None


def _entries(doc: Any, path: Path) -> tuple[ExternalEntry, ...]:
    """Validate the file's shape: ``{Kind: [{name: pattern, reason: text}, ...]}``."""
    def bad(what: str) -> ExternalObjectsError:
        return ExternalObjectsError(
            f"The external-objects file {path} is malformed: {what}. Write one list per kind "
            f"({', '.join(REFERENCED_KINDS)}) of entries with a 'name' (a name or glob pattern) and a "
            "non-empty 'reason', e.g. 'Secret: [{name: harness-cert, reason: TLS certificate "
            "created by the installer}]'.")

    if doc is None:
        return ()
    if not isinstance(doc, dict):
        raise bad(f"the top level is a {type(doc).__name__}, not a mapping of kinds")
    out = []
    for kind, items in doc.items():
        if kind not in REFERENCED_KINDS:
            raise bad(f"unknown kind {kind!r}")
        if not isinstance(items, list):
            raise bad(f"{kind} is a {type(items).__name__}, not a list")
        for index, item in enumerate(items):
            where = f"{kind} entry #{index + 1}"
            if not isinstance(item, dict) or set(item) - {"name", "reason"}:
                raise bad(f"{where} is not a mapping with only 'name' and 'reason'")
            name, reason = item.get("name"), item.get("reason")
            if not isinstance(name, str) or not name:
                raise bad(f"{where} has no 'name'")
            if not isinstance(reason, str) or not reason.strip():
                raise bad(f"{where} ({name}) has no 'reason'")
            out.append(ExternalEntry(str(kind), name, reason.strip()))
    return tuple(out)


def secrets_in_values(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Every Secret the values name (``existingSecret``/``secretName`` keys at any depth, which
    includes every ``global.database.*.secretName``): name -> dotted path that names it."""
    found: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                here = f"{path}.{key}" if path else str(key)
                if key in SECRET_VALUE_KEYS and isinstance(value, str) and value.strip():
                    found.setdefault(value.strip(), here)
                else:
                    walk(value, here)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(values or {}, "")
    return found


def load_runtime_labels(path: Path) -> dict[str, str]:
    """The runtime-labels file: ``{labels: {<label key>: <who sets it and when>}}``.

    A pod template never shows these labels; a controller adds them to running pods (Patroni's
    ``role``, the StatefulSet controller's ``statefulset.kubernetes.io/pod-name``). A missing
    file means no such labels.
    """
    def bad(what: str) -> ExternalObjectsError:
        return ExternalObjectsError(
            f"The runtime-labels file {path} is malformed: {what}. Write 'labels:' as a mapping of "
            "label key to a non-empty text saying which controller sets it, e.g. "
            "'labels: {role: set by Patroni on the leader and replica pods}'.")

    if not path.is_file():
        return {}
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError) as exc:
        raise ExternalObjectsError(f"Cannot read the runtime-labels file {path}: {exc}.") from None
    except yaml.YAMLError as exc:
        raise ExternalObjectsError(f"The runtime-labels file {path} is not valid YAML ({yaml_problem(exc)}).") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or set(doc) != {"labels"} or not isinstance(doc["labels"], dict):
        raise bad("the top level must be a mapping with the one key 'labels'")
    out = {}
    for key, reason in doc["labels"].items():
        if not isinstance(key, str) or not key or not isinstance(reason, str) or not reason.strip():
            raise bad(f"label {key!r} has no text saying who sets it")
        out[key] = reason.strip()
    return out


def load_external(path: Path, merged_values: Mapping[str, Any] | None,
                  runtime_labels: Path | None = None) -> External:
    """Read the external-objects file and add the Secrets the merged values name.

    A pre-created Secret named in values (``existingSecret: harness-minio``) is by definition not
    rendered, so it counts as declared; everything else must be listed with a reason. The labels
    controllers set at run time come from ``runtime_labels`` (default: ``runtime-labels.yaml``
    beside the external-objects file).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExternalObjectsError(f"Cannot read the external-objects file {path}: {exc.strerror}. "
                                   "Check the path (it lives in the fixtures directory).") from None
    except UnicodeDecodeError:
        raise ExternalObjectsError(f"The external-objects file {path} is not UTF-8 text. "
                                   "Write it as a YAML file.") from None
    try:
        doc = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ExternalObjectsError(f"The external-objects file {path} is not valid YAML "
                                   f"({yaml_problem(exc)}). Fix the file (yamllint points at the line).") from None
    labels = load_runtime_labels(runtime_labels or path.with_name("runtime-labels.yaml"))
    return External(_entries(doc, path), secrets_in_values(merged_values), labels)


# -- helpers --------------------------------------------------------------------------------------
def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _identity(obj: K8sObject) -> tuple[str, str, str, str]:
    namespace = "" if obj.kind in CLUSTER_SCOPED else (obj.namespace or "")
    return (_group(obj.api_version), obj.kind, namespace, obj.name)


class _Index:
    """Rendered objects by (kind, namespace, name); cluster-scoped kinds ignore the namespace."""

    def __init__(self, manifest: Manifest) -> None:
        self.objects: dict[tuple[str, str, str], K8sObject] = {}
        for obj in manifest.objects:
            self.objects.setdefault(self._key(obj.kind, obj.namespace or "", obj.name), obj)
        # PVCs a StatefulSet's volumeClaimTemplates create: "<template>-<statefulset>-<ordinal>".
        self.claim_patterns: list[tuple[str, re.Pattern[str]]] = []
        for obj in manifest.of_kind("StatefulSet"):
            for template in obj.spec.get("volumeClaimTemplates") or []:
                tname = (template.get("metadata") or {}).get("name")
                if tname:
                    self.claim_patterns.append((obj.namespace or "", re.compile(
                        rf"{re.escape(str(tname))}-{re.escape(obj.name)}-\d+")))

    @staticmethod
    def _key(kind: str, namespace: str, name: str) -> tuple[str, str, str]:
        return (kind, "" if kind in CLUSTER_SCOPED else namespace, name)

    def get(self, kind: str, namespace: str, name: str) -> K8sObject | None:
        return self.objects.get(self._key(kind, namespace, name))

    def has(self, kind: str, namespace: str, name: str) -> bool:
        if self.get(kind, namespace, name) is not None:
            return True
        return kind == "PersistentVolumeClaim" and any(
            ns == namespace and pattern.fullmatch(name) for ns, pattern in self.claim_patterns)


@dataclass(frozen=True)
class _Ref:
    """One by-name reference from a pod: what it points at, from which field, with which key."""

    kind: str
    name: str
    field: str
    key: str | None = None  # the ConfigMap/Secret key an env var reads
    optional: bool = False
    container: str | None = None


def _pod_refs(w: Workload) -> Iterator[_Ref]:
    """Every ConfigMap, Secret, PVC, ServiceAccount and PriorityClass the pod names."""
    pod = w.pod_spec
    for volume in pod.get("volumes") or []:
        vname = volume.get("name", "")
        if "configMap" in volume:
            cm = volume["configMap"] or {}
            yield _Ref("ConfigMap", str(cm.get("name", "")), f"volume {vname} configMap",
                       optional=bool(cm.get("optional")))
        if "secret" in volume:
            sec = volume["secret"] or {}
            yield _Ref("Secret", str(sec.get("secretName", "")), f"volume {vname} secret",
                       optional=bool(sec.get("optional")))
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"] or {}
            yield _Ref("PersistentVolumeClaim", str(claim.get("claimName", "")),
                       f"volume {vname} persistentVolumeClaim")
        for source in (volume.get("projected") or {}).get("sources") or []:
            for section, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                if section in source:
                    ref = source[section] or {}
                    yield _Ref(kind, str(ref.get("name", "")), f"volume {vname} projected {section}",
                               optional=bool(ref.get("optional")))
    for section in ("initContainers", "containers"):
        for container in pod.get(section) or []:
            cname = str(container.get("name", ""))
            for source in container.get("envFrom") or []:
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if key in source:
                        ref = source[key] or {}
                        yield _Ref(kind, str(ref.get("name", "")), f"envFrom {key}",
                                   optional=bool(ref.get("optional")), container=cname)
            for var in container.get("env") or []:
                value_from = var.get("valueFrom") or {}
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if key in value_from:
                        ref = value_from[key] or {}
                        yield _Ref(kind, str(ref.get("name", "")), f"env {var.get('name', '')} {key}",
                                   key=str(ref.get("key", "")), optional=bool(ref.get("optional")),
                                   container=cname)
    for index, secret in enumerate(pod.get("imagePullSecrets") or []):
        yield _Ref("Secret", str((secret or {}).get("name", "")), f"imagePullSecrets[{index}]")
    account = pod.get("serviceAccountName") or pod.get("serviceAccount")
    if account and account != "default":
        yield _Ref("ServiceAccount", str(account), "serviceAccountName")
    priority = pod.get("priorityClassName")
    if priority and not str(priority).startswith("system-"):
        yield _Ref("PriorityClass", str(priority), "priorityClassName")


def _data_keys(obj: K8sObject) -> set[str]:
    body = obj.body
    return {str(k) for section in ("data", "binaryData", "stringData") for k in (body.get(section) or {})}


# -- the checks -----------------------------------------------------------------------------------
def pod_references(manifest: Manifest, external: External) -> list[Finding]:
    """Every object a pod names exists in the render or is declared external; a key an env var
    reads from a rendered ConfigMap/Secret exists in it (else the pod never starts)."""
    index = _Index(manifest)
    out = []
    for w in manifest.workloads.values():
        namespace = w.obj.namespace or ""
        for ref in _pod_refs(w):
            hint = f"container {ref.container}" if ref.container else ""
            if not ref.name:
                out.append(Finding(CHECK, w.key, ref.field, f"the name of a {ref.kind}", "an empty name", hint))
                continue
            target = index.get(ref.kind, namespace, ref.name)
            if target is None:
                if ref.optional or index.has(ref.kind, namespace, ref.name):
                    continue
                if external.declared(ref.kind, ref.name) is not None:
                    continue
                out.append(Finding(
                    CHECK, w.key, ref.field, f"{ref.kind} {ref.name} in the render or declared external",
                    f"no {ref.kind} {ref.name}",
                    "; ".join(filter(None, [hint, "render it, mark the reference optional, or declare it "
                                                  "in fixtures/external-objects.yaml with a reason"]))))
                continue
            if ref.key is not None and not ref.optional and ref.key not in _data_keys(target):
                out.append(Finding(CHECK, w.key, ref.field, f"key {ref.key} in {ref.kind} {ref.name}",
                                   f"{ref.kind} {ref.name} has no key {ref.key}", hint))
    return out


def workload_selectors(manifest: Manifest) -> list[Finding]:
    """A controller's selector matches its own pod template (the API server rejects it otherwise)."""
    out = []
    for w in manifest.workloads.values():
        if w.kind not in SELECTOR_KINDS:
            continue
        selector = w.obj.spec.get("selector")
        if not selector_matches(selector, w.pod_labels):
            labels = ", ".join(f"{k}={v}" for k, v in sorted(w.pod_labels.items())) or "(none)"
            out.append(Finding(CHECK, w.key, "spec.selector", "matches the pod template labels",
                               f"selector {_selector_text(selector)} vs labels {labels}"))
    return out


def _selector_text(selector: Any) -> str:
    if not isinstance(selector, Mapping) or not selector:
        return "(empty)"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    parts += [f"{e.get('key')} {e.get('operator')} {e.get('values') or ''}".rstrip()
              for e in selector.get("matchExpressions") or []]
    return ", ".join(parts) or "(empty)"


def _max_replicas(w: Workload) -> int:
    """The most pods the controller may run: HPA maxReplicas when an HPA scales it."""
    spec_replicas = w.obj.spec.get("replicas")
    bound = int(spec_replicas) if spec_replicas is not None else 1
    if w.hpa is not None and w.hpa.spec.get("maxReplicas") is not None:
        bound = max(bound, int(w.hpa.spec["maxReplicas"]))
    return max(bound, w.replicas or 0)


def selects(selector: Mapping[str, Any] | None, w: Workload, runtime_labels: Collection[str] = ()) -> bool:
    """Whether a LabelSelector selects pods of ``w``.

    Counts the per-pod labels the StatefulSet controller adds (``statefulset.kubernetes.io/pod-name``,
    ``apps.kubernetes.io/pod-index``, checked against the ordinals the StatefulSet can have), which
    per-pod Services (e.g. Redis Sentinel announce Services) select on. Other ``runtime_labels``
    (Patroni's ``role``, ``controller-revision-hash``) are set on running pods by a controller, so
    the render cannot tell their value: the selector is judged on its other terms.
    """
    if selector_matches(selector, w.pod_labels):
        return True
    selector = selector or {}
    wanted = selector.get("matchLabels") or {}
    loose = set(runtime_labels) - {POD_NAME, POD_INDEX}
    terms = {"matchLabels": {k: v for k, v in wanted.items() if k not in loose},
             "matchExpressions": [e for e in selector.get("matchExpressions") or [] if e.get("key") not in loose]}
    if not terms["matchLabels"] and not terms["matchExpressions"]:
        return bool(loose & {*wanted, *(e.get("key") for e in selector.get("matchExpressions") or [])})
    if w.kind != "StatefulSet" or not ({POD_NAME, POD_INDEX} & set(wanted)):
        return bool(loose) and selector_matches(terms, w.pod_labels)
    ordinals: set[int] = set()
    name = re.fullmatch(rf"{re.escape(w.name)}-(\d+)", str(wanted.get(POD_NAME, "")))
    if name:
        ordinals.add(int(name.group(1)))
    if str(wanted.get(POD_INDEX, "")).isdigit():
        ordinals.add(int(wanted[POD_INDEX]))
    bound = _max_replicas(w)
    return any(selector_matches(terms, {**w.pod_labels, POD_NAME: f"{w.name}-{i}", POD_INDEX: str(i)})
               for i in ordinals if i < bound)


def _container_ports(w: Workload) -> list[Mapping[str, Any]]:
    pod = w.pod_spec
    return [p for section in ("containers", "initContainers") for c in pod.get(section) or []
            for p in c.get("ports") or []]


def services(manifest: Manifest, runtime_labels: Collection[str] = ()) -> list[Finding]:
    """A Service with a selector selects a rendered pod template, and each named targetPort is a
    port name a selected pod's containers declare.

    A numeric targetPort needs no declared ``containerPort``: Kubernetes forwards to the number
    whatever the pod declares (``ports`` in a container spec is informational), so only a named
    targetPort, which must resolve, can dangle.
    """
    out = []
    for svc in manifest.of_kind("Service"):
        selector = svc.spec.get("selector")
        if not selector or svc.spec.get("type") == "ExternalName":
            continue  # endpoints managed by hand or DNS alias: nothing to follow
        pods = [w for w in manifest.workloads.values() if (w.obj.namespace or "") == (svc.namespace or "")
                and selects({"matchLabels": selector}, w, runtime_labels)]
        if not pods:
            out.append(Finding(CHECK, svc.key, "spec.selector", "selects at least one rendered pod template",
                               f"{_selector_text({'matchLabels': selector})} selects nothing",
                               "the Service has no endpoints"))
            continue
        names = {p.get("name") for w in pods for p in _container_ports(w) if p.get("name")}
        for index, port in enumerate(svc.spec.get("ports") or []):
            target = port.get("targetPort", port.get("port"))
            label = port.get("name") or port.get("port")
            if isinstance(target, str) and not target.isdigit() and target not in names:
                out.append(Finding(CHECK, svc.key, f"spec.ports[{index}] ({label}) targetPort",
                                   f"a container port named {target} on {_keys(pods)}",
                                   f"named ports: {_listing(names)}"))
    return out


def _keys(pods: list[Workload]) -> str:
    return ", ".join(sorted(w.key for w in pods))


def _listing(items: set[Any]) -> str:
    return ", ".join(sorted(str(i) for i in items if i is not None)) or "none"


def autoscalers_and_budgets(manifest: Manifest, runtime_labels: Collection[str] = ()) -> list[Finding]:
    """Every HPA scales a rendered workload (kind and name); every PDB selects a rendered pod."""
    out = []
    for hpa in manifest.of_kind("HorizontalPodAutoscaler"):
        target = hpa.spec.get("scaleTargetRef") or {}
        tkey = f"{target.get('kind')}/{target.get('name')}"
        if tkey not in manifest.workloads:
            out.append(Finding(CHECK, hpa.key, "spec.scaleTargetRef", "a rendered workload (kind and name)",
                               f"no {target.get('kind')} {target.get('name')}", "the HPA scales nothing"))
    for pdb in manifest.of_kind("PodDisruptionBudget"):
        selector = pdb.spec.get("selector")
        if not any((w.obj.namespace or "") == (pdb.namespace or "") and selects(selector, w, runtime_labels)
                   for w in manifest.workloads.values()):
            out.append(Finding(CHECK, pdb.key, "spec.selector", "selects at least one rendered pod template",
                               f"{_selector_text(selector)} selects nothing", "the budget protects nothing"))
    return out


def _ingress_backends(ingress: K8sObject) -> Iterator[tuple[str, Mapping[str, Any]]]:
    spec = ingress.spec
    if spec.get("defaultBackend") or spec.get("backend"):
        yield "spec.defaultBackend", spec.get("defaultBackend") or spec.get("backend") or {}
    for r, rule in enumerate(spec.get("rules") or []):
        for p, path in enumerate((rule.get("http") or {}).get("paths") or []):
            where = f"spec.rules[{r}].http.paths[{p}] ({path.get('path', '/')})"
            yield where, path.get("backend") or {}


def ingresses(manifest: Manifest) -> list[Finding]:
    """Every Ingress backend names a rendered Service and one of its ports (number or name)."""
    index = _Index(manifest)
    out = []
    for ingress in manifest.of_kind("Ingress"):
        for where, backend in _ingress_backends(ingress):
            if "resource" in backend:
                continue  # a custom resource backend: outside what a render can verify
            if "service" in backend:
                service = backend.get("service") or {}
                name, port_ref = service.get("name"), service.get("port") or {}
                number, pname = port_ref.get("number"), port_ref.get("name")
            else:  # networking.k8s.io/v1beta1 and extensions/v1beta1
                name, port = backend.get("serviceName"), backend.get("servicePort")
                number = port if isinstance(port, int) else None
                pname = port if isinstance(port, str) else None
            svc = index.get("Service", ingress.namespace or "", str(name))
            if svc is None:
                out.append(Finding(CHECK, ingress.key, f"{where} backend service",
                                   f"Service {name} in the render", f"no Service {name}"))
                continue
            ports = svc.spec.get("ports") or []
            if number is not None and not any(p.get("port") == number for p in ports):
                out.append(Finding(CHECK, ingress.key, f"{where} backend service port",
                                   f"port {number} of Service {name}",
                                   f"Service {name} ports: {_listing({p.get('port') for p in ports})}"))
            elif pname is not None and not any(p.get("name") == pname for p in ports):
                out.append(Finding(CHECK, ingress.key, f"{where} backend service port",
                                   f"a port named {pname} on Service {name}",
                                   f"Service {name} port names: {_listing({p.get('name') for p in ports})}"))
            elif number is None and pname is None:
                out.append(Finding(CHECK, ingress.key, f"{where} backend service port",
                                   f"a port number or name of Service {name}", "no port"))
    return out


def duplicates(manifest: Manifest) -> list[Finding]:
    """No two objects share (API group, kind, namespace, name): helm would apply only one of them."""
    seen: dict[tuple[str, str, str, str], int] = {}
    for obj in manifest.objects:
        ident = _identity(obj)
        seen[ident] = seen.get(ident, 0) + 1
    out = []
    for (group, kind, namespace, name), count in sorted(seen.items()):
        if count > 1:
            where = f" in namespace {namespace}" if namespace else ""
            out.append(Finding(CHECK, f"{kind}/{name}", "identity (apiVersion group, kind, namespace, name)",
                               "unique in the render",
                               f"{count} objects {group or 'core'}/{kind} {name}{where}",
                               "helm install fails or the later object silently replaces the earlier"))
    return out


def integrity(spec: Pair, manifest: Manifest, external: External) -> list[Finding]:
    """All referential-integrity findings of one render (check id ``integrity``)."""
    return [
        *workload_selectors(manifest), *services(manifest, external.runtime_labels),
        *autoscalers_and_budgets(manifest, external.runtime_labels),
        *ingresses(manifest), *pod_references(manifest, external), *duplicates(manifest),
    ]


@check("referential_integrity", findings=(CHECK,), context=True,
       doc="Selectors, Service ports, HPA/PDB targets, Ingress backends and every ConfigMap, Secret, PVC, "
           "ServiceAccount and PriorityClass a pod references exist (or are declared external).")
def referential_integrity(ctx: Context, spec: Pair, manifest: Manifest) -> list[Finding]:
    """:func:`integrity` with the objects declared external (fixtures/external-objects.yaml and the
    Secrets the pair's merged values name)."""
    external = load_external(ctx.options.fixtures / "external-objects.yaml", ctx.merged(spec).values)
    return integrity(spec, manifest, external)
