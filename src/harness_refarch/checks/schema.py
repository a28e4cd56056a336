"""Schema validation of every rendered object, as the API server would judge it before admission.

Built-in kinds are validated against the Kubernetes OpenAPI schemas that the ``kubernetes-validate``
package ships (JSON schemas per Kubernetes minor version, no network), in their *strict* form:
an unknown field is an error, as with ``kubectl apply --validate=strict``. Custom resources are
validated against the schemas in ``fixtures/schemas/`` (one YAML file per kind: the CRD's
``openAPIV3Schema`` plus the ``source`` it was copied from). A kind with no schema anywhere is
*not* counted as passed: it is returned in :attr:`SchemaResult.unvalidated` so the test can skip
with a reason naming it.

Why not ``kubernetes_validate.validate()`` itself: it re-reads the 1 MB definitions file and
builds a new validator for every object (about 6 ms each). Here the definitions are loaded once
per Kubernetes version, validators once per (kind, apiVersion, version), and an object whose
content was already validated (the same ConfigMap in 19 renders) is not validated again.

Two gaps of the published schemas are closed, because the API server rejects what they accept:
``resource.Quantity`` must match the Kubernetes quantity syntax (``cpu: lots`` is an error), and
``IntOrString`` is one type check instead of a ``oneOf`` whose error says nothing useful.

Messages never contain Secret data: a finding describes what the schema expected and what type it
got; it quotes the rendered value only for short scalars of objects that are not Secrets, and then
through :func:`harness_refarch.model.redact.mask`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from harness_refarch.checks.apis import target_minor
from harness_refarch.checks.registry import Context, check
from harness_refarch.helm.store import digest_of
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import SAFE_LOADER, Manifest, yaml_problem
from harness_refarch.model.redact import mask
from harness_refarch.model.trees import copy_tree

CHECK = "schema"
NOT_VALIDATED = "schema-not-validated"  # kept in the render store beside the findings: why the test skips

# https://github.com/kubernetes/apimachinery/blob/master/pkg/api/resource/quantity.go (the
# pattern controller-gen emits for resource.Quantity fields).
QUANTITY_PATTERN = (r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
                    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
_QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING_DEF = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_OBJECT_META_DEF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_FORMAT_KEY = "x-refarch-format"  # marks the patched definitions, to phrase their errors
_MAX_QUOTED = 40  # longer values are described, never quoted
_MAX_CACHED = 200_000
# Built-in API groups that no longer exist at all in the shipped versions: an object there is an
# error ("not served"), not a custom resource without a schema.
_REMOVED_GROUPS = frozenset({"extensions"})
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
               float: "number", type(None): "null"}


class SchemaError(RefarchError):
    """The schemas cannot be used: unsupported Kubernetes version or a broken schema file."""


@dataclass(frozen=True)
class SchemaResult:
    """What :func:`validate` found for one render.

    ``unvalidated`` lists "Kind (apiVersion)" of every kind no schema covers; those objects were
    not checked at all and must be reported as such, never as passed.
    """

    findings: list[Finding]
    unvalidated: list[str]
    schema_version: str  # the kubernetes-validate schema set used, e.g. "1.29.0"
    validated: int = 0  # objects checked against a schema (cached results included)
    cached: int = 0  # of which answered from the content-hash cache

    def skip_reason(self) -> str:
        """The reason a test gives when it skips the unvalidated kinds; empty when there are none."""
        if not self.unvalidated:
            return ""
        return "not validated: no schema for " + ", ".join(self.unvalidated)


# -- Kubernetes versions ----------------------------------------------------------------------
def kubernetes_validate_version() -> str:
    """The installed kubernetes-validate, named in errors about unsupported versions."""
    return metadata.version("kubernetes-validate")


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@lru_cache(maxsize=1)
def supported_versions() -> tuple[str, ...]:
    """The Kubernetes versions whose schemas kubernetes-validate ships, oldest first."""
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found = set()
    for entry in root.iterdir():
        match = re.fullmatch(r"v(\d+\.\d+\.\d+)-local-strict", entry.name)
        if match:
            found.add(match.group(1))
    return tuple(sorted(found, key=_release))


def _minor(kube_version: str) -> tuple[int, int]:
    try:
        return target_minor(kube_version)
    except RefarchError as exc:
        raise SchemaError(str(exc)) from None


def schema_version_for(kube_version: str) -> str:
    """The schema set for ``kube_version``: the newest shipped one of the same or an older minor.

    Patch releases never change the API, so 1.29.5 uses the 1.29.0 schemas. A minor version
    between two shipped ones uses the older, as kubernetes-validate itself does. Versions outside
    the shipped range are an error rather than a silent guess.
    """
    wanted = _minor(kube_version)
    shipped = supported_versions()
    candidates = [v for v in shipped if _release(v)[:2] <= wanted]
    if not candidates or _release(shipped[-1])[:2] < wanted:
        span = f"{shipped[0]} to {shipped[-1]}" if shipped else "none"
        raise SchemaError(
            f"kubernetes-validate {kubernetes_validate_version()} has no schemas for Kubernetes "
            f"{kube_version} (it ships {span}). Choose a --cluster-version in that range, or "
            "upgrade kubernetes-validate (`pip install -U kubernetes-validate`) for newer versions.")
    return candidates[-1]


# -- built-in schemas -------------------------------------------------------------------------
@dataclass
class _KubeSchemas:
    version: str
    base_uri: str
    registry: Registry[Any]
    gvk: dict[tuple[str, str, str], str]  # (group, version, kind) -> definition name
    groups: frozenset[str]  # API groups Kubernetes itself serves in this version
    validators: dict[str, Any] = field(default_factory=dict)

    def ref(self, name: str) -> dict[str, str]:
        return {"$ref": f"{self.base_uri}#/$defs/{name}"}

    def validator(self, key: str, schema: Mapping[str, Any]) -> Any:
        """One compiled validator per key (a definition name or a custom kind), built on first use."""
        found = self.validators.get(key)
        if found is None:
            with _LOCK:
                found = self.validators.get(key)
                if found is None:
                    found = jsonschema.Draft202012Validator(dict(schema), registry=self.registry)
                    self.validators[key] = found
        return found


_LOCK = threading.RLock()


@lru_cache(maxsize=8)
def _kube_schemas(version: str) -> _KubeSchemas:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", f"v{version}-local-strict")
    definitions = json.loads(root.joinpath("_definitions.json").read_text(encoding="utf-8"))
    defs = definitions["$defs"]
    # Close the two gaps the API server does not have (see the module docstring).
    defs[_QUANTITY_DEF] = {"type": ["string", "number", "null"], "pattern": QUANTITY_PATTERN,
                           _FORMAT_KEY: "quantity"}
    defs[_INT_OR_STRING_DEF] = {"type": ["string", "integer", "null"], _FORMAT_KEY: "int-or-string"}
    gvk: dict[tuple[str, str, str], str] = {}
    for name, schema in defs.items():
        for item in schema.get("x-kubernetes-group-version-kind") or []:
            if item.get("kind") in ("DeleteOptions", "WatchEvent"):  # listed under every group
                continue
            gvk.setdefault((item.get("group", ""), item.get("version", ""), item.get("kind", "")), name)
    base_uri = str(definitions["$id"])
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    return _KubeSchemas(version, base_uri, registry, gvk, frozenset(g for g, _, _ in gvk) | _REMOVED_GROUPS)


# -- custom resource schemas ------------------------------------------------------------------
@dataclass(frozen=True)
class CustomSchema:
    group: str
    version: str
    kind: str
    schema: Mapping[str, Any]  # JSON schema (converted from the CRD's openAPIV3Schema)
    source: str
    path: Path
    digest: str  # of the converted schema: validators are keyed by content, not by file


_DROP = ("description", "example", "externalDocs", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
         "x-kubernetes-map-type", "x-kubernetes-validations", "x-kubernetes-embedded-resource")


def openapi_to_json_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD ``openAPIV3Schema`` as a strict JSON schema (draft 2020-12).

    ``nullable`` and ``x-kubernetes-int-or-string`` become type lists; an object schema with
    ``properties`` and no ``additionalProperties`` rejects unknown fields (what a structural schema
    prunes, strict field validation rejects) unless it says ``x-kubernetes-preserve-unknown-fields``.
    """
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key in ("nullable", "type", "x-kubernetes-int-or-string",
                                   "x-kubernetes-preserve-unknown-fields"):
            continue
        if key == "properties":
            out[key] = {name: openapi_to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, Mapping)):
            out[key] = openapi_to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [openapi_to_json_schema(sub) for sub in value]
        else:
            out[key] = copy_tree(value)
    types: list[str] = []
    if node.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    elif "type" in node:
        types = [str(node["type"])]
    if types and node.get("nullable"):
        types.append("null")
    if types:
        out["type"] = types if len(types) > 1 else types[0]
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def _schema_files(schema_dir: Path) -> list[Path]:
    if not schema_dir.is_dir():
        return []
    return sorted(p for p in schema_dir.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


def _fingerprint(schema_dir: Path) -> tuple[str, tuple[tuple[str, int, int], ...]]:
    files = _schema_files(schema_dir)
    return str(schema_dir.resolve()), tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def load_custom_schemas(schema_dir: Path) -> dict[tuple[str, str, str], CustomSchema]:
    """The custom resource schemas of ``schema_dir``, keyed by (group, version, kind).

    Each file holds ``source`` (where the schema was copied from), ``group``, ``kind`` and
    ``versions: {<version>: {openAPIV3Schema: ...}}``. A file without a source, or a kind defined
    twice, is an error: an unattributed or ambiguous schema must not silently pass objects.
    """
    return dict(_load_custom(_fingerprint(schema_dir)))


@lru_cache(maxsize=8)
def _load_custom(fingerprint: tuple[str, tuple[tuple[str, int, int], ...]]
                 ) -> tuple[tuple[tuple[str, str, str], CustomSchema], ...]:
    root = Path(fingerprint[0])
    found: dict[tuple[str, str, str], CustomSchema] = {}
    for path in _schema_files(root):
        how = ("Each file in the schema directory needs `source` (where it was copied from), `group`, "
               "`kind` and `versions: {v1: {openAPIV3Schema: ...}}`; fix or remove the file.")
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        except (OSError, yaml.YAMLError) as exc:
            raise SchemaError(f"The custom resource schema {path} cannot be read "
                              f"({yaml_problem(exc)}). {how}") from None
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) and doc.get(k)
                                                for k in ("source", "group", "kind")):
            raise SchemaError(f"The custom resource schema {path} lacks `source`, `group` or `kind`. {how}")
        versions = doc.get("versions")
        if not isinstance(versions, dict) or not versions:
            raise SchemaError(f"The custom resource schema {path} has no `versions`. {how}")
        for version, entry in versions.items():
            raw = entry.get("openAPIV3Schema") if isinstance(entry, dict) else None
            if not isinstance(raw, dict):
                raise SchemaError(f"The custom resource schema {path} has no openAPIV3Schema for "
                                  f"version {version!r}. {how}")
            key = (doc["group"], str(version), doc["kind"])
            if key in found:
                raise SchemaError(f"{doc['kind']} ({doc['group']}/{version}) has two schemas: "
                                  f"{found[key].path} and {path}. Keep one of them.")
            schema = openapi_to_json_schema(raw)
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise SchemaError(f"The custom resource schema {path} (version {version}) is not a valid "
                                  f"schema: {exc.message[:200]}. {how}") from None
            digest = hashlib.blake2b(json.dumps(schema, sort_keys=True).encode(), digest_size=16).hexdigest()
            found[key] = CustomSchema(doc["group"], str(version), doc["kind"], schema, doc["source"], path, digest)
    return tuple(found.items())


# -- error descriptions -----------------------------------------------------------------------
_IDENT = re.compile(r"[A-Za-z_$][\w$-]*")


def json_path(parts: Sequence[str | int]) -> str:
    """``spec.template.spec.containers[0].resources`` from a jsonschema path (keys with dots quoted)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _join(path: str, key: str) -> str:
    """``path`` extended by one object key."""
    if _IDENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _shown(value: Any, secret: bool) -> str:
    """`` 'value'`` for a short scalar of a non-Secret object (masked); empty otherwise."""
    if secret or isinstance(value, dict | list):
        return ""
    text = json.dumps(value) if not isinstance(value, str) else value
    if len(text) > _MAX_QUOTED or "\n" in text:
        return ""
    return f" {mask(text)!r}" if isinstance(value, str) else f" {mask(text)}"


def _types(spec: Any) -> str:
    names = [spec] if isinstance(spec, str) else list(spec)
    return " or ".join(n for n in names if n != "null") or "null"


def _describe(error: Any, secret: bool) -> Iterator[tuple[str, str, str, str]]:
    """(field, expected, actual, hint) for one jsonschema error, without the error's own message
    (which quotes the instance, i.e. possibly Secret data)."""
    path = json_path(list(error.absolute_path))
    inst, schema, kind = error.instance, error.schema, error.validator
    shown = _shown(inst, secret)
    fmt = schema.get(_FORMAT_KEY) if isinstance(schema, dict) else None
    if kind == "additionalProperties" and isinstance(inst, dict):
        known = list((schema.get("properties") or {}).keys())
        for key in sorted(set(inst) - set(known), key=str):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else ""
            yield _join(path, str(key)), "only the fields the schema defines", f"unknown field {str(key)!r}", hint
    elif kind == "required" and isinstance(inst, dict):
        for key in error.validator_value:
            if key not in inst:
                yield _join(path, key), "present (required)", f"missing required field {key!r}", ""
    elif fmt == "quantity":
        yield path, "a Kubernetes quantity such as 500m, 2, 1.5 or 512Mi", f"invalid quantity{shown}", ""
    elif kind == "type":
        yield path, f"type {_types(error.validator_value)}", f"{_json_type(inst)}{shown}", ""
    elif kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        yield path, f"one of {allowed}", f"{_json_type(inst)}{shown}" if shown else "a value not in the list", ""
    elif kind == "pattern":
        yield path, f"a string matching {error.validator_value}", f"a string that does not match{shown}", ""
    elif kind in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum",
                  "exclusiveMinimum", "exclusiveMaximum", "minProperties", "maxProperties", "multipleOf"):
        size = f" of length {len(inst)}" if isinstance(inst, list | dict | str) else shown
        yield path, f"{kind} {error.validator_value}", f"{_json_type(inst)}{size}", ""
    else:
        yield path, f"{kind} constraint of the schema", f"{_json_type(inst)} that fails it{shown}", ""


# -- validation -------------------------------------------------------------------------------
# Validation results by object content, schema and version; bounded by _MAX_CACHED (cleared when full).
_VALIDATION_CACHE: dict[tuple[str, Any, str], tuple[tuple[str, str, str, str], ...] | str] = {}


def clear_cache() -> None:
    """Forget cached validation results (the benchmark's cold runs; tests)."""
    _VALIDATION_CACHE.clear()
    _kube_schemas.cache_clear()
    _load_custom.cache_clear()


def _jsonable(value: Any) -> Any:
    """The object as the API server receives it (JSON): timestamps as strings, keys as strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _canonical(body: Mapping[str, Any]) -> str:
    try:
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_default)
    except TypeError:  # mixed key types (YAML int and str keys): normalise first
        return json.dumps(_jsonable(body), sort_keys=True, separators=(",", ":"))


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _served(kube: _KubeSchemas, group: str, kind: str) -> list[str]:
    """The apiVersions serving ``kind``: in its own group, else in any (Ingress left extensions)."""
    for same_group in (True, False):
        found = sorted({f"{g}/{v}" if g else v for g, v, k in kube.gvk if k == kind and (g == group or not same_group)})
        if found:
            return found
    return []


def _check_object(kind: str, api_version: str, instance: dict[str, Any], kube: _KubeSchemas,
                  custom: Mapping[tuple[str, str, str], CustomSchema]) -> tuple[tuple[str, str, str, str], ...] | str:
    """Findings as (field, expected, actual, hint) tuples, or the "Kind (apiVersion)" no schema covers."""
    group, version = _split_api_version(api_version)
    secret = "secret" in kind.lower()  # Secret, and look-alikes (SealedSecret, ExternalSecret)
    if not api_version:
        return (("apiVersion", "an API version such as apps/v1", "missing", ""),)
    name = kube.gvk.get((group, version, kind))
    validator: Any
    if name is not None:
        validator = kube.validator(name, kube.ref(name))
    elif (group, version, kind) in custom:
        crd = custom[(group, version, kind)]
        schema = dict(crd.schema)
        props = dict(schema.get("properties") or {})
        if props.get("metadata", {}).get("type") == "object" and "properties" not in props["metadata"]:
            props["metadata"] = kube.ref(_OBJECT_META_DEF)  # what the API server checks metadata against
            schema["properties"] = props
        validator = kube.validator(f"custom:{group}/{version}/{kind}:{crd.digest}", schema)
    elif group in kube.groups:
        release = kube.version.rsplit(".", 1)[0]
        served = _served(kube, group, kind)
        if served:
            return (("apiVersion", f"{' or '.join(served)} (served by Kubernetes {release})",
                     f"{api_version}, not served by Kubernetes {release}", ""),)
        kinds = sorted({k for g, _, k in kube.gvk if g == group})
        close = difflib.get_close_matches(kind, kinds, n=1)
        return (("kind", f"a kind of the {group or 'core'} API group",
                 f"{kind}, unknown in {api_version}", f"did you mean {close[0]!r}?" if close else ""),)
    else:
        return f"{kind} ({api_version})"
    out: list[tuple[str, str, str, str]] = []
    for error in validator.iter_errors(instance):
        out.extend(_describe(error, secret))
    return tuple(dict.fromkeys(out))  # unique, in the validator's order


# Object names as the API server validates them: most kinds take a DNS-1123 subdomain, these a
# DNS-1123 label (no dots, at most 63 characters). The OpenAPI schemas say nothing about names.
_LABEL_NAMED = frozenset({"Service", "Namespace"})
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _name_findings(kind: str, key: str, name: str) -> list[Finding]:
    """A name the API server would refuse is a finding; the object's other checks still run."""
    if not name:  # generateName: the API server makes one up
        return []
    if kind in _LABEL_NAMED:
        if len(name) <= 63 and _LABEL.match(name):
            return []
        expected = "a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)"
    else:
        if len(name) <= 253 and _SUBDOMAIN.match(name):
            return []
        expected = "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)"
    return [Finding(CHECK, key, "metadata.name", expected, f"{name[:80]!r}",
                    hint="the API server refuses this object")]


def validate(manifest: Manifest, kube_version: str, schema_dir: Path) -> SchemaResult:
    """Validate every object of ``manifest`` against the schemas of ``kube_version``.

    Built-in kinds use kubernetes-validate's strict schemas of the nearest shipped version (see
    :func:`schema_version_for`); custom resources use ``schema_dir``. An object whose content was
    validated before (same schema set, same body) is answered from a cache.
    """
    version = schema_version_for(kube_version)
    kube = _kube_schemas(version)
    fingerprint = _fingerprint(schema_dir)
    custom = dict(_load_custom(fingerprint))
    findings: list[Finding] = []
    unvalidated: dict[str, None] = {}
    validated = cached = 0
    for obj in manifest.objects:
        text = _canonical(obj.body)
        key = (version, fingerprint, hashlib.blake2b(text.encode(), digest_size=20).hexdigest())
        result = _VALIDATION_CACHE.get(key)
        if result is None:
            result = _check_object(obj.kind, obj.api_version, json.loads(text), kube, custom)
            if len(_VALIDATION_CACHE) >= _MAX_CACHED:
                _VALIDATION_CACHE.clear()
            _VALIDATION_CACHE[key] = result
        else:
            cached += 1
        findings += _name_findings(obj.kind, obj.key, obj.name)
        if isinstance(result, str):
            unvalidated[result] = None
            continue
        validated += 1
        findings += [Finding(CHECK, obj.key, path, expected, actual, hint=hint)
                     for path, expected, actual, hint in result]
    return SchemaResult(findings, sorted(unvalidated), version, validated, cached)


# -- the check: results kept in the render store (keyed by the render, the schema files and
#    kubernetes-validate's version), so a warm run validates nothing again ----------------------
def _stored(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    schemas = ctx.options.fixtures / "schemas"

    def compute() -> list[Finding]:
        result = validate(manifest, ctx.options.kube_version, schemas)
        unvalidated = [Finding(NOT_VALIDATED, "", result.skip_reason(), "", "")] if result.unvalidated else []
        return [*result.findings, *unvalidated]

    token = digest_of(schemas, extra=metadata.version("kubernetes-validate"))
    return ctx.stored("schema", pair, compute, extra=token)


def _skip(ctx: Context, pair: Pair, manifest: Manifest) -> str:
    """Kinds without any schema make the test a skip naming them: never counted as validated."""
    return next((f.field for f in _stored(ctx, pair, manifest) if f.check == NOT_VALIDATED), "")


@check("kubernetes_schemas", findings=(CHECK,), context=True, skip=_skip,
       doc="A finding names the object, the field path and the schema's complaint. Kinds without any schema make "
           "the test a skip naming them: never counted as validated. Results are kept in the render store (keyed "
           "by the render, the schema files and kubernetes-validate's version).")
def kubernetes_schemas(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    return [f for f in _stored(ctx, pair, manifest) if f.check != NOT_VALIDATED]
