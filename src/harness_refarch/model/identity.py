"""Stable identities for rendered objects whose names or values helm generates at random.

Released charts name hook Jobs ``harness-upgrade-{{ randAlphaNum 5 | lower }}``, put
``rollme: {{ randAlphaNum 5 }}`` on pod templates and fill Secrets with random passwords, so two
renders of the same inputs differ. Golden files, DR primary/standby comparisons and diffs must
identify objects by a name with the random parts removed and ignore the fields that change on
every render; otherwise one object looks "missing" and "extra" at the same time.

Three layers do that:

* :func:`normalise_name` recognises random-looking name segments by their shape alone
  (letters *and* digits, 4-10 characters, not a known word such as ``ipv4`` or ``v1beta1``).
* :func:`object_identity` adds the object's role: a Job's pod template is immutable, so charts
  that run a Job on every install or upgrade name it anew on every render (``ti-migration-wjwtqj``,
  ``harness-patroni-ou``: a random suffix, with or without digits, of any length). A Job is
  therefore identified by its name with the last ``-`` segment replaced by ``*``. This holds
  whatever the cache, the selection or the luck of two renders drawing the same short suffix,
  so test ids, finding keys, waivers and golden keys built on it never change between runs.
* :func:`learn_volatile` / :func:`volatile_from_text` compare two renders of identical inputs
  and learn what actually changed: renamed objects (including all-letter random suffixes that
  no shape rule can tell from a word), changed fields and Secrets with generated values. The
  resulting :class:`Volatility` normalises names and strips volatile fields for later
  comparisons. It holds object names and key paths only, never a value. It also says which
  renamed objects the two rules above do *not* cover (``unstable``): the determinism check
  reports those, since no identity shown to a user could follow them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness_refarch.model.manifest import SAFE_LOADER, K8sObject, Manifest, parse_manifest
from harness_refarch.model.trees import copy_tree

WILDCARD = "*"
# Words that look random by shape (letters and digits) but are ordinary name parts.
ALLOWED_WORDS = frozenset({
    "ipv4", "ipv6", "http2", "h2c", "oauth2", "oidc2", "sha1", "sha256", "sha512", "md5",
    "base64", "utf8", "x509", "log4j", "i18n", "l10n", "a11y", "k8s", "k3s", "s3", "ec2",
    "gp2", "gp3", "io1", "io2", "tls12", "tls13", "pg15", "pg16", "pg17", "es256", "rs256",
})
_SEPARATORS = re.compile(r"([-._:])")
_MIXED = re.compile(r"^(?=.*[a-zA-Z])(?=.*\d)[a-zA-Z0-9]{4,10}$")
_VERSION = re.compile(r"^v\d+((alpha|beta|rc)\d*)?$", re.IGNORECASE)
_TOKEN = re.compile(r"^[a-zA-Z0-9]+$")

Path = tuple[str | int, ...]
FieldKey = tuple[str, str, str]  # (kind, normalised name, dotted path)


def _random_segment(segment: str) -> bool:
    return (bool(_MIXED.match(segment)) and segment.lower() not in ALLOWED_WORDS
            and not _VERSION.match(segment))


@functools.lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """Replace helm-generated random segments of an object name with ``*``.

    Only segments that mix letters and digits (4-10 characters) count as random, so real
    names (``ng-manager``, ``mongodb-replicaset-chart-0``, ``harness-v2``) stay as they are.
    """
    parts = _SEPARATORS.split(name)
    return "".join(WILDCARD if i % 2 == 0 and _random_segment(p) else p for i, p in enumerate(parts))


# Kinds whose names charts generate per render because of the role of the object: a Job's
# pod template cannot be changed, so a Job that must run on every install or upgrade gets a new
# name each time (a random or revision suffix).
RENAMED_BY_ROLE = frozenset({"Job"})


def role_name(kind: str, name: str) -> str:
    """``name`` (already shape-normalised) with the segment a chart generates for objects of
    this kind's role replaced by ``*``: for a Job, its last ``-`` segment (``ti-migration-wjwtqj``
    and ``harness-patroni-ou`` become ``ti-migration-*`` and ``harness-patroni-*``). A name of
    one segment stays as it is: nothing would be left to identify it by."""
    if kind not in RENAMED_BY_ROLE:
        return name
    head, sep, last = name.rpartition("-")
    if not sep or not head or last == WILDCARD or not _TOKEN.match(last):
        return name
    return f"{head}-{WILDCARD}"


@functools.lru_cache(maxsize=65536)
def object_identity(kind: str, name: str) -> str:
    """``Kind/normalised-name``: the key under which test ids, findings, waivers, golden files,
    DR comparisons and diffs track an object (random segments by shape, then by role)."""
    return f"{kind}/{role_name(kind, normalise_name(name))}"


# "Kind/name" inside a finding's workload or field text, e.g. "Job/ti-migration-wjwtqj container migrate".
_OBJECT_KEY = re.compile(r"(?<![\w./-])([A-Z][A-Za-z0-9]*)/([a-z0-9][-a-z0-9.]*[a-z0-9]|[a-z0-9])(?![\w-])")


def stable_text(text: str) -> str:
    """``text`` with every ``Kind/name`` in it replaced by the object's identity."""
    if "/" not in text:
        return text
    return _OBJECT_KEY.sub(lambda m: object_identity(m.group(1), m.group(2)), text)


def field_path(path: Path) -> str:
    """A readable key path: ``spec.template.metadata.annotations.rollme``, ``containers[0]``.

    Keys holding dots or brackets (``helm.sh/hook``, ``tls.crt``) are written as ``["..."]``.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.search(r"[.\[\]\"]", part) or not part:
            out += '["' + part.replace('"', '\\"') + '"]'
        else:
            out += ("." if out else "") + part
    return out


@dataclass(frozen=True)
class _Template:
    """A name learned from a rename: fixed segments plus wildcards of the observed lengths."""

    kind: str
    parts: tuple[str | None, ...]  # separators and fixed segments as str, wildcards as None
    min_len: int
    max_len: int

    def apply(self, kind: str | None, name: str) -> str | None:
        if kind is not None and kind != self.kind:
            return None
        parts = _SEPARATORS.split(name)
        if len(parts) != len(self.parts):
            return None
        out = []
        for want, got in zip(self.parts, parts, strict=True):
            if want is None:
                if got != WILDCARD and not (_TOKEN.match(got) and self.min_len <= len(got) <= self.max_len):
                    return None
                out.append(WILDCARD)
            elif want != got:
                return None
            else:
                out.append(got)
        return "".join(out)


def _template(kind: str, raw_a: str, raw_b: str) -> _Template | None:
    """Learn the common shape of two names of the same object, or None if they do not align."""
    norm_a, norm_b = _SEPARATORS.split(normalise_name(raw_a)), _SEPARATORS.split(normalise_name(raw_b))
    seg_a, seg_b = _SEPARATORS.split(raw_a), _SEPARATORS.split(raw_b)
    if not len(norm_a) == len(norm_b) == len(seg_a) == len(seg_b):
        return None
    parts: list[str | None] = []
    lengths: list[int] = []
    for i, (na, nb) in enumerate(zip(norm_a, norm_b, strict=True)):
        if i % 2 == 1:  # separator
            if na != nb:
                return None
            parts.append(na)
        elif na == nb and na != WILDCARD:
            parts.append(na)
        elif _TOKEN.match(seg_a[i]) and _TOKEN.match(seg_b[i]):
            parts.append(None)
            lengths += [len(seg_a[i]), len(seg_b[i])]
        else:
            return None
    if not lengths or all(p is None for p in parts[::2]):
        return None  # nothing fixed left: pairing these two would match anything
    return _Template(kind, tuple(parts), min(lengths), max(lengths))


@dataclass(frozen=True)
class Volatility:
    """What changes between two renders of identical inputs: names and key paths, no values.

    The default instance knows nothing beyond :func:`normalise_name`, so code can always call
    ``normalise`` and ``strip`` whether or not a second render was made.
    """

    # Kind/normalised-name of objects whose names differ between the two renders.
    renamed: list[str] = field(default_factory=list)
    # (kind, normalised name, dotted path) of every value that differs.
    volatile_fields: set[FieldKey] = field(default_factory=set)
    # Normalised names of Secrets whose values (or keys) differ: generated at render time.
    secrets_differing: list[str] = field(default_factory=list)
    # Kind/normalised-name of objects that only one of the two renders contains.
    unpaired: list[str] = field(default_factory=list)
    # Renamed objects whose identity by shape and role (object_identity) differs between the two
    # renders: no test id, finding key or waiver can follow them.
    unstable: list[str] = field(default_factory=list)
    _templates: tuple[_Template, ...] = ()
    _paths: Mapping[tuple[str, str], tuple[Path, ...]] = field(default_factory=dict)

    def normalise(self, key: str) -> str:
        """Normalise ``Kind/name`` (or a bare name) with the learned renames on top of
        :func:`normalise_name`, so a third render's random name maps to the same identity."""
        kind, sep, name = key.partition("/")
        if not sep:
            kind, name = "", key
        base = normalise_name(name)
        for template in self._templates:
            learned = template.apply(kind or None, base)
            if learned is not None:
                base = learned
                break
        return f"{kind}/{role_name(kind, base)}" if sep else base

    def paths_of(self, kind: str, name: str) -> tuple[Path, ...]:
        """Volatile key paths (as tuples) of the object with this kind and (raw) name."""
        return self._paths.get((kind, self.normalise(name)), ())

    def strip(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """A copy of an object body without its volatile fields and with its name normalised,
        ready for golden or primary/standby comparison. The input is not modified."""
        kind = str(body.get("kind", ""))
        meta = body.get("metadata") or {}
        name = str(meta.get("name", ""))
        out: dict[str, Any] = copy_tree(dict(body))
        if isinstance(out.get("metadata"), dict) and "name" in out["metadata"]:
            out["metadata"]["name"] = self.normalise(name)
        for path in self.paths_of(kind, name):
            _remove(out, path)
        return out

    @property
    def empty(self) -> bool:
        return not (self.renamed or self.volatile_fields or self.secrets_differing or self.unpaired
                    or self.unstable)


def _remove(node: Any, path: Path) -> None:
    for part in path[:-1]:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node.pop(last, None)
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = None  # keep later indices stable for the other paths


def _differences(a: Any, b: Any, path: Path = ()) -> Iterable[Path]:
    """Paths where two parsed YAML trees differ, as deep as the difference goes."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                yield (*path, str(key))
            else:
                yield from _differences(a[key], b[key], (*path, str(key)))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, (*path, i))
    elif a != b:
        yield path


def _pair(a: Manifest, b: Manifest) -> tuple[list[tuple[K8sObject, K8sObject]], list[K8sObject], list[K8sObject]]:
    """Match objects by identity (kind + name normalised by shape and role) + position, then
    each leftover with the first leftover of the same kind whose name has the same shape
    (all-letter random suffixes)."""
    def keyed(m: Manifest) -> dict[tuple[str, str, int], K8sObject]:
        seen: dict[tuple[str, str], int] = {}
        out = {}
        for obj in m.objects:
            ident = (obj.kind, object_identity(obj.kind, obj.name))
            seen[ident] = seen.get(ident, 0) + 1
            out[(*ident, seen[ident])] = obj
        return out

    ka, kb = keyed(a), keyed(b)
    pairs = [(ka[k], kb[k]) for k in ka if k in kb]
    left_a = [o for k, o in ka.items() if k not in kb]
    left_b = [o for k, o in kb.items() if k not in ka]
    rest_a: list[K8sObject] = []
    for obj in left_a:
        match = next((o for o in left_b
                      if o.kind == obj.kind and _template(obj.kind, obj.name, o.name) is not None), None)
        if match is None:
            rest_a.append(obj)
        else:
            left_b.remove(match)
            pairs.append((obj, match))
    return pairs, rest_a, left_b


def _learn(a: Manifest, b: Manifest, digests_a: Mapping[tuple[str, str], Mapping[str, str]] | None,
           digests_b: Mapping[tuple[str, str], Mapping[str, str]] | None) -> Volatility:
    pairs, only_a, only_b = _pair(a, b)
    templates: list[_Template] = []
    unpaired: list[K8sObject] = []
    renamed_pairs: list[tuple[K8sObject, K8sObject]] = []
    for oa, ob in pairs:
        if oa.name == ob.name:
            continue
        # Learned even when normalise_name already agrees: a later render may draw an
        # all-letter suffix that no shape rule recognises.
        learned = _template(oa.kind, oa.name, ob.name)
        if learned is None and normalise_name(oa.name) != normalise_name(ob.name):
            unpaired += [oa, ob]
        elif learned is None:
            renamed_pairs.append((oa, ob))
        else:
            templates.append(learned)
            renamed_pairs.append((oa, ob))
    unpaired += only_a + only_b
    vol = Volatility(_templates=tuple(templates))
    paths: dict[tuple[str, str], set[Path]] = {}
    secrets_differing: set[str] = set()
    unpaired_ids = {id(o) for o in unpaired}
    for oa, ob in pairs:
        if id(oa) in unpaired_ids:
            continue
        ident = (oa.kind, vol.normalise(oa.name))
        found = set(_differences(_without_name(oa.body), _without_name(ob.body)))
        # Values the render store masks (literal credentials) are compared by their keyed digests.
        va, vb = a.value_digests.get((oa.kind, oa.name), {}), b.value_digests.get((ob.kind, ob.name), {})
        found |= {p for p in set(va) | set(vb) if va.get(p) != vb.get(p)}
        if oa.kind == "Secret" and digests_a is not None and digests_b is not None:
            da, db = digests_a.get((oa.kind, oa.name), {}), digests_b.get((ob.kind, ob.name), {})
            found |= {_secret_path(k, da, db) for k in set(da) | set(db) if da.get(k) != db.get(k)}
        if oa.kind == "Secret" and found:
            secrets_differing.add(ident[1])
        if found:
            paths.setdefault(ident, set()).update(found)
    return Volatility(
        renamed=sorted({vol.normalise(f"{o.kind}/{o.name}") for o, _ in renamed_pairs}),
        unstable=sorted({vol.normalise(oa.key) for oa, ob in renamed_pairs
                         if object_identity(oa.kind, oa.name) != object_identity(ob.kind, ob.name)}),
        volatile_fields={(k, n, field_path(p)) for (k, n), ps in paths.items() for p in ps},
        secrets_differing=sorted(secrets_differing),
        unpaired=sorted({vol.normalise(o.key) for o in unpaired}),
        _templates=tuple(templates),
        _paths={k: tuple(sorted(v, key=field_path)) for k, v in paths.items()},
    )


def _secret_path(key: str, da: Mapping[str, str], db: Mapping[str, str]) -> Path:
    section = da.get(key) or db.get(key) or ""
    return (section.split(":", 1)[0], key)


def _without_name(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = dict(body.get("metadata") or {})
    meta.pop("name", None)
    return {**body, "metadata": meta}


def learn_volatile(a: Manifest, b: Manifest) -> Volatility:
    """Compare two renders of identical inputs: which names and fields helm generated.

    Secret data is redacted in a :class:`Manifest` and literal credentials are masked in the
    render store's representation; generated values are found through the keyed digests kept
    instead of them (``Manifest.secret_digests``, ``Manifest.value_digests``).
    """
    return _learn(a, b, a.secret_digests or None, b.secret_digests or None)


def _secret_digests(text: str, salt: bytes) -> dict[tuple[str, str], dict[str, str]]:
    """Per Secret, per key: a salted digest of the value tagged with its section.

    The salt is random per call, so digests cannot be compared with anything outside this
    comparison; values themselves are dropped as soon as they are hashed.
    """
    out: dict[tuple[str, str], dict[str, str]] = {}
    for doc in yaml.load_all(text, Loader=SAFE_LOADER):
        docs = doc.get("items") if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else [doc]
        for item in docs if isinstance(docs, list) else []:
            if not isinstance(item, dict) or item.get("kind") != "Secret":
                continue
            name = str((item.get("metadata") or {}).get("name", ""))
            digests = out.setdefault(("Secret", name), {})
            for section in ("data", "stringData"):
                values = item.get(section)
                if isinstance(values, dict):
                    for key, value in values.items():
                        mac = hmac.new(salt, str(value).encode(), hashlib.sha256).hexdigest()
                        digests[str(key)] = f"{section}:{mac}"
    return out


def volatile_from_text(text_a: str, text_b: str, namespace: str = "default") -> Volatility:
    """Like :func:`learn_volatile`, from two raw ``helm template`` outputs, so Secrets whose
    generated values differ are found too. Secret values are only ever hashed (with a
    per-call random salt) and never stored in the result, which holds names and key paths."""
    a = parse_manifest(text_a, namespace, "first render")
    b = parse_manifest(text_b, namespace, "second render")  # both valid YAML from here on
    salt = secrets.token_bytes(32)
    return _learn(a, b, _secret_digests(text_a, salt), _secret_digests(text_b, salt))


def identities(objects: Iterable[K8sObject], volatility: Volatility | None = None) -> dict[str, K8sObject]:
    """Objects by stable identity; a second object with the same identity gets ``#2`` etc.,
    in render order (which helm keeps stable for identical inputs)."""
    vol = volatility or Volatility()
    out: dict[str, K8sObject] = {}
    for obj in objects:
        ident = vol.normalise(obj.key)
        key, n = ident, 1
        while key in out:
            n += 1
            key = f"{ident}#{n}"
        out[key] = obj
    return out


@functools.lru_cache(maxsize=65536)
def key_identity(key: str) -> str:
    """``Kind/name`` with helm-generated random parts of the name normalised away (test ids,
    golden entries and waiver keys use it, so a generated name never reaches them)."""
    kind, _, name = key.partition("/")
    return object_identity(kind, name)
