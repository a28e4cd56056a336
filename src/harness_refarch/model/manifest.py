"""Parsed ``helm template`` output: objects indexed by kind and name, workloads with their
effective replicas, containers with env resolved through ConfigMaps and Secrets.

Secret values are never decoded: a Secret's ``data``/``stringData`` values are replaced by a
placeholder at parse time and env vars sourced from Secrets carry only the reference, so no
check, diff or report built on this model can print Secret data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.shapes import SHAPE, normalise

# libyaml's C loader is ~8x faster (see README benchmarks); pure Python only as a last resort.
SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SAFE_DUMPER: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter, PyYAML's safe representer

def yaml_problem(exc: BaseException) -> str:
    """What is wrong with a YAML text and where, without the excerpt PyYAML adds (it could quote
    a credential or Secret data); other errors (unreadable, not UTF-8) by their type."""
    if isinstance(exc, yaml.MarkedYAMLError):
        what = "; ".join(p for p in (exc.context, exc.problem) if p) or "syntax error"
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{what}{where}"
    return type(exc).__name__


REDACTED = "<redacted>"
ValuePath = tuple[str | int, ...]  # a key path inside an object body: ("data", "TOKEN"), (..., "env", 2, "value")
_DIGESTS = "\0digests"  # transient key on a Secret document while it is parsed
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")


class ManifestError(RefarchError):
    """Rendered output that is not a stream of Kubernetes objects."""


@dataclass(frozen=True)
class K8sObject:
    kind: str
    name: str
    namespace: str | None
    api_version: str
    body: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def labels(self) -> Mapping[str, str]:
        return self.body.get("metadata", {}).get("labels") or {}

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.body.get("spec") or {}


@dataclass(frozen=True)
class EnvVar:
    """One resolved environment variable; ``value`` is ``None`` for Secret-sourced variables."""

    name: str
    source: str  # "value", "configMap", "secret", "field", "resourceField"
    ref: str | None = None  # e.g. "Secret/harness-secrets:password" or "ConfigMap/ng-manager:MONGO_URI"
    value: str | None = None
    missing: bool = False  # the referenced ConfigMap/key is not in the render

    @property
    def from_secret(self) -> bool:
        return self.source == "secret"

    def describe(self) -> str:
        if self.source == "value":
            return "literal value"
        return f"{self.source} {self.ref}" + (" (missing from the render)" if self.missing else "")


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    resources: Mapping[str, Any]
    env: Mapping[str, EnvVar]
    init: bool = False
    restart_always: bool = False  # a sidecar init container (restartPolicy: Always)

    def request(self, resource: str) -> Any:
        return (self.resources.get("requests") or {}).get(resource)

    def limit(self, resource: str) -> Any:
        return (self.resources.get("limits") or {}).get(resource)


@dataclass(frozen=True)
class Workload:
    obj: K8sObject
    replicas: int | None  # effective: HPA minReplicas if an HPA targets it, else spec.replicas
    replicas_source: str  # "hpa", "spec.replicas", "default" or "n/a" (DaemonSet, Job)
    hpa: K8sObject | None
    containers: tuple[Container, ...]

    @property
    def kind(self) -> str:
        return self.obj.kind

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def key(self) -> str:
        return self.obj.key

    @property
    def pod_template(self) -> Mapping[str, Any]:
        spec = self.obj.spec
        if self.kind == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        return spec.get("template") or {}

    @property
    def pod_spec(self) -> Mapping[str, Any]:
        return self.pod_template.get("spec") or {}

    @property
    def pod_labels(self) -> Mapping[str, str]:
        return (self.pod_template.get("metadata") or {}).get("labels") or {}

    @property
    def volume_claim_templates(self) -> list[Mapping[str, Any]]:
        return list(self.obj.spec.get("volumeClaimTemplates") or [])

    @property
    def pvc_names(self) -> list[str]:
        """PersistentVolumeClaims mounted through pod volumes (e.g. MinIO's Deployment)."""
        return [v["persistentVolumeClaim"]["claimName"] for v in self.pod_spec.get("volumes") or []
                if (v.get("persistentVolumeClaim") or {}).get("claimName")]

    @property
    def stateful(self) -> bool:
        return bool(self.volume_claim_templates or self.pvc_names)

    @property
    def main_containers(self) -> tuple[Container, ...]:
        return tuple(c for c in self.containers if not c.init)


# Per-process random key for Secret value digests: two renders of one run can tell whether a
# generated value differs (DR primary vs standby, determinism) without any value being kept.
PROCESS_KEY = secrets.token_bytes(32)  # assigned once; a render store passes its own persistent key


def redact_secret(doc: dict[str, Any], digest_key: bytes) -> dict[str, str] | None:
    """Replace a Secret's values by a placeholder, in place, and give each key's keyed digest
    (None when ``doc`` is not a Secret)."""
    if doc.get("kind") != "Secret":
        return None
    digests: dict[str, str] = {}
    for section in ("data", "stringData"):
        if isinstance(doc.get(section), dict):
            for key, value in doc[section].items():
                mac = hmac.new(digest_key, str(value).encode(), hashlib.sha256).hexdigest()
                digests[str(key)] = f"{section}:{mac}"
            doc[section] = {k: REDACTED for k in doc[section]}
    return digests


def _secret_safe(doc: dict[str, Any], digest_key: bytes) -> dict[str, Any]:
    digests = redact_secret(doc, digest_key)
    if digests is not None:
        doc[_DIGESTS] = digests
    return doc


def _iter_documents(text: str, source: str, problems: list[Finding],
                    digest_key: bytes) -> Iterator[dict[str, Any]]:
    try:
        docs = list(yaml.load_all(text, Loader=SAFE_LOADER))
    except yaml.YAMLError as exc:
        raise ManifestError(f"The rendered output of {source} is not valid YAML ({yaml_problem(exc)}). "
                            "Run the same `helm template` by hand to see the offending "
                            "template.") from None
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        where = f"document #{index}"
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) or not doc.get("kind"):
            problems.append(Finding(SHAPE, where, "kind", "a Kubernetes object with a string 'kind'",
                                    type(doc).__name__ if not isinstance(doc, dict) else "no kind"))
            continue
        if doc["kind"].endswith("List") and "items" in doc:
            items = doc["items"]
            if not isinstance(items, list):
                problems.append(Finding(SHAPE, f"{where} ({doc['kind']})", "items", "a list", type(items).__name__))
                continue
            for i, item in enumerate(items):
                if isinstance(item, dict) and isinstance(item.get("kind"), str) and item.get("kind"):
                    yield _secret_safe(item, digest_key)
                else:
                    problems.append(Finding(SHAPE, f"{where} ({doc['kind']}) item #{i}", "kind",
                                            "a Kubernetes object with a string 'kind'",
                                            type(item).__name__ if not isinstance(item, dict) else "no kind"))
        else:
            yield _secret_safe(doc, digest_key)


class Manifest:
    """All objects of one render, with lookups the checks need."""

    def __init__(self, objects: Iterable[K8sObject], namespace: str, source: str = "render"):
        self.objects: tuple[K8sObject, ...] = tuple(objects)
        self.problems: list[Finding] = []  # shape findings from parsing (see parse_manifest)
        # (kind, name) -> key -> "section:keyed digest" of each Secret value; never the value
        self.secret_digests: dict[tuple[str, str], dict[str, str]] = {}
        # (kind, name) -> path -> keyed digest of each literal value the render store masks
        # (credentials in ConfigMaps and env values); never the value
        self.value_digests: dict[tuple[str, str], dict[ValuePath, str]] = {}
        self.namespace = namespace
        self.source = source
        # (digest key, JSON text) when this manifest was made from that text by the render
        # store's canonical form: storing it again writes the text, without masking it again
        self.stored_text: tuple[bytes, str] | None = None
        self._index: dict[tuple[str, str], K8sObject] = {}
        for obj in self.objects:
            self._index.setdefault((obj.kind, obj.name), obj)
        self.workloads: dict[str, Workload] = {
            obj.key: self._workload(obj) for obj in self.objects if obj.kind in WORKLOAD_KINDS
        }

    # -- lookups ---------------------------------------------------------------------------
    def workload_of(self, text: str) -> str | None:
        """The key of the workload a finding's ``workload`` text is about (``Deployment/x`` or
        ``Deployment/x container c``): the longest workload key that is the text or is followed
        by a space in it. Names may hold spaces (Kubernetes refuses them, helm renders them), so
        the text is never simply split at its first space."""
        best = text if text in self.workloads else None
        if best is None:
            cut = text.find(" ")
            while cut != -1:
                if text[:cut] in self.workloads:
                    best = text[:cut]
                cut = text.find(" ", cut + 1)
        return best

    def get(self, kind: str, name: str) -> K8sObject | None:
        return self._index.get((kind, name))

    def of_kind(self, *kinds: str) -> list[K8sObject]:
        return [o for o in self.objects if o.kind in kinds]

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for obj in self.objects:
            counts[obj.kind] = counts.get(obj.kind, 0) + 1
        return counts

    def hpa_for(self, obj: K8sObject) -> K8sObject | None:
        for hpa in self.of_kind("HorizontalPodAutoscaler"):
            target = hpa.spec.get("scaleTargetRef") or {}
            if target.get("kind") == obj.kind and target.get("name") == obj.name:
                return hpa
        return None

    def pods_selected(self, selector: Mapping[str, Any]) -> list[Workload]:
        return [w for w in self.workloads.values() if selector_matches(selector, w.pod_labels)]

    # -- construction ----------------------------------------------------------------------
    def _workload(self, obj: K8sObject) -> Workload:
        hpa = self.hpa_for(obj)
        replicas: int | None
        if obj.kind in ("DaemonSet", "Job", "CronJob"):
            replicas, source = None, "n/a"
        elif hpa is not None:
            replicas, source = int(hpa.spec.get("minReplicas") or 1), "hpa"
        elif obj.spec.get("replicas") is not None:
            replicas, source = int(obj.spec["replicas"]), "spec.replicas"
        else:
            replicas, source = 1, "default"
        spec = obj.spec
        if obj.kind == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        containers = tuple(
            self._container(c, init=(section == "initContainers"))
            for section in ("initContainers", "containers")
            for c in pod_spec.get(section) or []
        )
        return Workload(obj, replicas, source, hpa, containers)

    def _container(self, raw: Mapping[str, Any], init: bool) -> Container:
        env: dict[str, EnvVar] = {}
        # Kubernetes semantics: envFrom first (later sources win), then env entries override.
        for source in raw.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                name = source["configMapRef"].get("name", "")
                cm = self.get("ConfigMap", name)
                for key, value in ((cm.body.get("data") or {}) if cm else {}).items():
                    env[prefix + key] = EnvVar(prefix + key, "configMap", f"ConfigMap/{name}:{key}",
                                               None if value is None else str(value))
            elif "secretRef" in source:
                name = source["secretRef"].get("name", "")
                secret = self.get("Secret", name)
                keys = list((secret.body.get("data") or {}) | (secret.body.get("stringData") or {})) if secret else []
                for key in keys:
                    env[prefix + key] = EnvVar(prefix + key, "secret", f"Secret/{name}:{key}")
        for item in raw.get("env") or []:
            name = item.get("name", "")
            if "valueFrom" not in item:
                value = item.get("value")
                env[name] = EnvVar(name, "value", None, None if value is None else str(value))
                continue
            ref = item["valueFrom"] or {}
            if "secretKeyRef" in ref:
                sref = ref["secretKeyRef"]
                env[name] = EnvVar(name, "secret", f"Secret/{sref.get('name')}:{sref.get('key')}")
            elif "configMapKeyRef" in ref:
                cref = ref["configMapKeyRef"]
                cm = self.get("ConfigMap", cref.get("name", ""))
                data = (cm.body.get("data") or {}) if cm else {}
                key = cref.get("key", "")
                env[name] = EnvVar(name, "configMap", f"ConfigMap/{cref.get('name')}:{key}",
                                   None if data.get(key) is None else str(data[key]),
                                   missing=key not in data)
            elif "fieldRef" in ref:
                env[name] = EnvVar(name, "field", ref["fieldRef"].get("fieldPath"))
            else:
                env[name] = EnvVar(name, "resourceField", str(ref.get("resourceFieldRef")))
        return Container(
            name=raw.get("name", ""), image=raw.get("image", ""),
            resources=raw.get("resources") or {}, env=env, init=init,
            restart_always=init and raw.get("restartPolicy") == "Always",
        )


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Evaluate a Kubernetes LabelSelector (matchLabels + matchExpressions) against labels.

    An empty or missing selector matches nothing here: for PDBs and backups an empty
    selector is a configuration mistake, not "select everything".
    """
    if not selector:
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in expressions:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def parse_manifest(text: str, namespace: str, source: str | None = None,
                   digest_key: bytes = PROCESS_KEY) -> Manifest:
    """Parse a multi-document YAML stream (``helm template`` output) into a :class:`Manifest`.

    Every object is shape-checked on the way in (see :func:`harness_refarch.model.shapes.normalise`):
    a field of the wrong type becomes a finding in ``Manifest.problems`` and is dropped, so
    checks never crash on it and never judge it.
    """
    label = source or "the rendered chart"
    problems: list[Finding] = []
    digests: dict[tuple[str, str], dict[str, str]] = {}
    objects = []
    for doc in _iter_documents(text, label, problems, digest_key):
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        key = f"{doc['kind']}/{meta.get('name', '')}"
        if _DIGESTS in doc:
            digests[("Secret", str(meta.get("name", "")))] = doc.pop(_DIGESTS)
        problems += normalise(doc, key)
        objects.append(doc)
    return from_bodies(objects, namespace, label, problems, digests)


def from_bodies(bodies: Iterable[dict[str, Any]], namespace: str, source: str,
                problems: Iterable[Finding] = (),
                digests: Mapping[tuple[str, str], dict[str, str]] | None = None,
                value_digests: Mapping[tuple[str, str], dict[ValuePath, str]] | None = None) -> Manifest:
    """A Manifest from already parsed, redacted and shape-checked object bodies (a parse, or
    the on-disk render store)."""
    objects = []
    for doc in bodies:
        meta = doc.get("metadata") or {}
        objects.append(K8sObject(
            kind=str(doc["kind"]), name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace") or namespace),
            api_version=str(doc.get("apiVersion", "")), body=doc,
        ))
    manifest = Manifest(objects, namespace=namespace, source=source)
    manifest.problems = list(problems)
    manifest.secret_digests = dict(digests or {})
    manifest.value_digests = dict(value_digests or {})
    return manifest
