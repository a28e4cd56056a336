"""The on-disk render store: an unchanged second run calls helm zero times.

A render is keyed by everything that determines it: the chart's content (every file, subcharts
and packaged ``.tgz`` included), each values file's content, the ``--set`` values, release,
namespace, Kubernetes version and helm version, and the suite's own code (which decides what a
render becomes). What is stored is the *parsed, redacted* manifest (Secret values replaced at
parse time, only keyed digests kept; literal credentials in ConfigMaps and env values masked,
with a keyed digest kept beside the object), never helm's raw output, as JSON in files of mode
0600 written atomically. A per-key file lock makes each distinct input render once even across
``pytest -n`` workers.

Every render, fresh or stored, reaches the checks in that one representation (:func:`canonical`):
a fresh render goes through the same masking, digests and JSON round trip the store applies, so
a verdict never depends on whether a render came from helm or from the cache.

Where it lives follows the helm cache: ``$HARNESS_REFARCH_CACHE`` or the XDG cache, under
``renders/``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import filelock

from harness_refarch import chart_files, install_helm
from harness_refarch.checks.wiring import CREDENTIAL_NAME, looks_like_credential
from harness_refarch.findings import Finding
from harness_refarch.manifest import Manifest, ValuePath, digest_key, from_bodies, set_digest_key
from harness_refarch.redact import mask

FORMAT = 2
T = TypeVar("T")


def default_dir() -> Path:
    return install_helm.cache_dir() / "renders"


def chart_digest(chart: Path) -> str:
    """sha256 over every file of the chart (relative path and content), in a stable order."""
    h = hashlib.sha256()
    for rel, path in chart_files.walk(chart):
        h.update(str(rel).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@functools.cache
def code_digest() -> str:
    """sha256 of the suite's own code (every module and template of the installed package).

    Stored entries hold what this code made of a render (the parsed manifest, schema, lint and
    yamllint findings): another version of the suite must not be answered from them."""
    package = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for rel, path in chart_files.walk(package):
        if path.suffix in (".py", ".j2"):
            h.update(str(rel).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class RenderStore:
    """Parsed renders on disk, one JSON file per input key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._chart_digests: dict[Path, str] = {}
        set_digest_key(self._digest_key())

    def _digest_key(self) -> bytes:
        """The key of Secret value digests, shared by every run that uses this store."""
        path = self.root / "digest.key"
        with filelock.FileLock(str(self.root / ".digest.key.lock")):
            if not path.is_file():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
            return path.read_bytes()

    def key(self, chart: Path, values: tuple[Path, ...], sets: tuple[str, ...], release: str,
            namespace: str, kube_version: str, helm_version: str, repeat: int, kind: str = "render") -> str:
        if chart not in self._chart_digests:
            self._chart_digests[chart] = chart_digest(chart)
        parts = [f"format={FORMAT}", f"code={code_digest()}", f"kind={kind}", f"chart={self._chart_digests[chart]}",
                 *(f"values={file_digest(v)}" for v in values), *(f"set={s}" for s in sets),
                 f"release={release}", f"namespace={namespace}", f"kube={kube_version}",
                 f"helm={helm_version}", f"repeat={repeat}"]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def load(self, key: str, source: str) -> Manifest | None:
        path = self._path(key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing, or damaged: render again and overwrite
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return None
        try:
            return from_document(doc, source)
        except (KeyError, TypeError, ValueError):
            return None  # damaged: render again and overwrite

    def save(self, key: str, manifest: Manifest) -> None:
        self._write(key, document(manifest))

    def _write(self, key: str, doc: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:12]}.", suffix=".tmp", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(encode(doc))
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def load_or_make(self, key: str, load: Callable[[str], T | None], make: Callable[[], T],
                     save: Callable[[str, T], None]) -> tuple[T, bool]:
        """``load(key)`` (a hit), else ``make()`` then ``save`` it (a miss), under a per-key lock
        so that concurrent workers wait for one helm call instead of each making their own."""
        found = load(key)
        if found is not None:
            return found, True
        lock = self._path(key).with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with filelock.FileLock(str(lock)):
            found = load(key)
            if found is not None:
                return found, True
            made = make()
            try:
                save(key, made)
            except OSError:
                pass  # a full or read-only cache costs speed, never the result
            return made, False

    def get_or_render(self, key: str, source: str, render: Callable[[], Manifest]) -> tuple[Manifest, bool]:
        """The stored manifest (hit) or ``render()`` then store it (miss)."""
        return self.load_or_make(key, lambda k: self.load(k, source), render, self.save)

    def load_findings(self, key: str) -> list[Finding] | None:
        try:
            doc = json.loads(self._path(key).read_text(encoding="utf-8"))
            return [Finding(**f) for f in doc["findings"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_findings(self, key: str, findings: list[Finding]) -> None:
        self._write(key, {"format": FORMAT, "findings": [f.__dict__ for f in findings]})


def document(manifest: Manifest) -> dict[str, Any]:
    """What the store writes for a manifest: object bodies with literal credentials masked, shape
    problems, and the keyed digests of Secret values and of every value the masking replaced."""
    changed: dict[tuple[str, str], list[tuple[ValuePath, str]]] = {}
    objects = []
    for obj in manifest.objects:
        found: list[tuple[ValuePath, str]] = []
        objects.append(_scrub(obj.body, (), found))
        if found:
            changed[(obj.kind, obj.name)] = found
    values = {key: dict(paths) for key, paths in manifest.value_digests.items()}
    for key, found in changed.items():
        values.setdefault(key, {}).update(found)
    return {
        "format": FORMAT, "namespace": manifest.namespace, "objects": objects,
        "problems": [f.__dict__ for f in manifest.problems],
        "digests": {name: keys for (_, name), keys in manifest.secret_digests.items()},
        "values": [[kind, name, [[list(path), mac] for path, mac in sorted(paths.items(), key=str)]]
                   for (kind, name), paths in sorted(values.items())],
    }


def from_document(doc: dict[str, Any], source: str) -> Manifest:
    """The manifest a stored document describes (the inverse of :func:`document`)."""
    problems = [Finding(**f) for f in doc.get("problems", [])]
    digests = {("Secret", name): keys for name, keys in doc.get("digests", {}).items()}
    values = {(str(kind), str(name)): {tuple(path): str(mac) for path, mac in paths}
              for kind, name, paths in doc.get("values", [])}
    return from_bodies(doc["objects"], doc["namespace"], source, problems, digests, values)


def encode(doc: dict[str, Any]) -> str:
    """JSON as the store writes it; values JSON has no type for (YAML dates) become text."""
    return json.dumps(doc, separators=(",", ":"), default=str)


def canonical(manifest: Manifest) -> Manifest:
    """``manifest`` exactly as the store would give it back: masked, digested and through JSON
    (integer keys become text, dates become text), so a fresh render and a stored one are the
    same input to every check and comparison."""
    return from_document(json.loads(encode(document(manifest))), manifest.source)


_MASKED = "****"


def _digest(value: str) -> str:
    return hmac.new(digest_key(), value.encode(), hashlib.sha256).hexdigest()


def _scrub_value(name: str, value: Any) -> Any:
    """A literal value as the checks need it, without the credential it may hold: connection
    strings keep their hosts (password masked), a credential-named key keeps only the fact that
    it holds a literal (the wiring check reports exactly that), switches stay as they are."""
    if not isinstance(value, str):
        return value
    if CREDENTIAL_NAME.search(name) and looks_like_credential(value):
        return _MASKED
    return mask(value)


def scrub(body: Any) -> Any:
    """A copy of a (Secret-redacted) object body for disk: ConfigMap data and literal container
    env values pass through the masking function, so no credential is ever written to the cache."""
    return _scrub(body, (), [])


def _scrub(body: Any, path: ValuePath, changed: list[tuple[ValuePath, str]]) -> Any:
    """:func:`scrub`, noting in ``changed`` the path and keyed digest of every value it masks, so
    that two renders can still tell whether a masked value differs (generated at render time)."""
    if isinstance(body, list):
        return [_scrub(item, (*path, i), changed) for i, item in enumerate(body)]
    if not isinstance(body, dict):
        return body
    out = {k: _scrub(v, (*path, str(k)), changed) for k, v in body.items()}

    def scrubbed(name: str, where: ValuePath, value: Any) -> Any:
        new = _scrub_value(name, value)
        if new != value:
            changed.append(((*path, *where), _digest(str(value))))
        return new

    if body.get("kind") == "ConfigMap" and isinstance(body.get("data"), dict):
        out["data"] = {k: scrubbed(str(k), ("data", str(k)), v) for k, v in body["data"].items()}
    if isinstance(body.get("name"), str) and "value" in body and "valueFrom" not in body:
        out["value"] = scrubbed(body["name"], ("value",), body["value"])  # an env entry
    return out


def get_or_compute(store: RenderStore, key: str, compute: Callable[[], list[Finding]]) -> list[Finding]:
    """Findings of another helm job (``helm lint``) or of a deterministic check, stored like
    renders: JSON, 0600, atomic, one computation per key across workers."""
    return store.load_or_make(key, store.load_findings, compute, store.save_findings)[0]
