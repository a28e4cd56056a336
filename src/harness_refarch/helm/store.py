"""The on-disk render store: an unchanged second run calls helm zero times.

A render is keyed by everything that determines it: the chart's content (every file, subcharts
and packaged ``.tgz`` included), each values file's content, the ``--set`` values, release,
namespace, Kubernetes version and helm (its version and the digest of its program file), and the
suite's own code (which decides what a render becomes). Contents, never paths: a store restored
on another machine or read from another checkout answers the same inputs. What is stored is the
*parsed, redacted* manifest (Secret values replaced at parse time, only keyed digests kept;
literal credentials in ConfigMaps and env values masked, with a keyed digest kept beside the
object), never helm's raw output, as JSON in files of mode 0600 written atomically. A per-key
file lock makes each distinct input render once even across ``pytest -n`` workers.

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
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import filelock

from harness_refarch.helm.binary import Helm, known_version, program_digest, seed_version
from harness_refarch.model import chart_files
from harness_refarch.model.connections import CREDENTIAL_NAME, looks_like_credential
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import cache_dir
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import PROCESS_KEY, Manifest, ValuePath, from_bodies
from harness_refarch.model.redact import mask

FORMAT = 2
T = TypeVar("T")


def default_dir() -> Path:
    return cache_dir() / "renders"


def chart_digest(chart: Path) -> str:
    """sha256 over every file of the chart (relative path and content), in a stable order."""
    h = hashlib.sha256()
    for rel, path in chart_files.walk(chart):
        h.update(str(rel).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def render_digest(chart: Path) -> str:
    """The chart's part of a render key: :func:`chart_digest` without the profile files beside
    ``Chart.yaml`` (``override-*.yaml``) when no template of the chart itself can read its files
    (``.Files``, or ``tpl`` that a values string could make do it). A render passes its profile
    file as a values file, so the key holds that one by content, and the others cannot reach it:
    editing ``override-large.yaml`` must not make every other profile's render a miss. Subcharts
    see only their own files."""
    own = Path(chart) / "templates"
    texts = (p.read_bytes() for _, p in chart_files.walk(own)) if own.is_dir() else iter(())
    if any(b"Files" in text or b"tpl" in text for text in texts):
        return chart_digest(chart)
    h = hashlib.sha256()
    for rel, path in chart_files.walk(chart):
        if len(rel.parts) == 1 and rel.name.startswith("override-") and rel.suffix == ".yaml":
            continue
        h.update(str(rel).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@functools.cache
def code_digest() -> str:
    """sha256 of the suite's own code (every module and template of the installed package).

    Stored entries hold what this code made of a render (the parsed manifest, schema, lint and
    yamllint findings): another version of the suite must not be answered from them."""
    h = hashlib.sha256()
    for rel, path in code_files():
        h.update(str(rel).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def code_files() -> list[tuple[str, Path]]:
    """The modules and templates of the whole package (every layer), relative to it."""
    package = Path(__file__).resolve().parents[1]  # harness_refarch/
    return [(str(rel), path) for rel, path in chart_files.walk(package) if path.suffix in (".py", ".j2")]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=64)
def digest_of(*paths: Path, extra: str = "") -> str:
    """A short content digest of files (directories: every file below), for store keys."""
    h = hashlib.sha256(extra.encode())
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.name).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:24]


class RenderStore:
    """Parsed renders on disk, one JSON file per input key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        check_cache_dir(self.root)
        self._chart_digests: dict[Path, str] = {}
        self._key = self._digest_key()
        self.digest_key = self._key  # keys Secret and value digests of every render this store holds

    def _digest_key(self) -> bytes:
        """The per-user secret of this store (0600): keys the digests of Secret values and the
        MAC every entry carries, so an entry someone else wrote or edited is a miss."""
        path = self.root / "digest.key"
        with filelock.FileLock(str(self.root / ".digest.key.lock")):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if st.st_uid != os.getuid() or st.st_mode & 0o077:
                    raise UntrustedCache(f"The render cache key {path} is not a private file of yours (owner "
                                         f"uid {st.st_uid}, mode {st.st_mode & 0o777:o}). {_TRUST_HOW}")
                return fh.read()

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, b"entry\0" + text.encode(), hashlib.sha256).hexdigest()

    def _read(self, key: str) -> Any:
        """The JSON document of an entry, or None: missing, damaged, not ours, or a symlink."""
        path = self._path(key)
        try:
            if not _trusted(path.parent):
                return None
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "r", encoding="utf-8") as fh:
                mac, _, text = fh.read().partition("\n")
            if not hmac.compare_digest(mac, self._mac(text)):
                return None  # written by someone without this store's key, or edited since
            return json.loads(text)
        except (OSError, ValueError):
            return None

    def key(self, chart: Path, values: tuple[Path, ...], sets: tuple[str, ...], release: str,
            namespace: str, kube_version: str, helm_version: str, repeat: int, kind: str = "render") -> str:
        if chart not in self._chart_digests:
            self._chart_digests[chart] = render_digest(chart)
        parts = [f"format={FORMAT}", f"code={code_digest()}", f"kind={kind}", f"chart={self._chart_digests[chart]}",
                 *(f"values={file_digest(v)}" for v in values), *(f"set={s}" for s in sets),
                 f"release={release}", f"namespace={namespace}", f"kube={kube_version}",
                 f"helm={helm_version}", f"repeat={repeat}"]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def has(self, key: str) -> bool:
        """An entry exists under ``key`` (not read, not verified)."""
        return self._path(key).is_file()

    def load(self, key: str, source: str) -> Manifest | None:
        doc = self._read(key)
        if not _valid_render(doc):
            return None  # missing, damaged or of another shape: render again and overwrite
        try:
            return from_document(doc, source)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def save(self, key: str, manifest: Manifest) -> None:
        stored = manifest.stored_text
        if stored is not None and stored[0] == self.digest_key:
            self._write_text(key, stored[1])  # a fresh render is canonical already: masked, encoded
        else:
            self._write(key, document(manifest, self.digest_key))

    def _write(self, key: str, doc: dict[str, Any]) -> None:
        self._write_text(key, encode(doc))

    def _write_text(self, key: str, text: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _trusted(path.parent):  # never follow a planted symlink out of the cache
            raise UntrustedCache(f"{path.parent} is not a private directory of yours")
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:12]}.", suffix=".tmp", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{self._mac(text)}\n{text}")
            os.replace(tmp, path)  # replaces a symlink planted at ``path``, never its target
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
        if not _trusted(lock.parent):
            made = make()  # a directory that is not ours: no lock, no entry, the result still right
            return made, False
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

    def load_doc(self, key: str) -> Any:
        """Any stored JSON document (the caller checks its shape), or None: missing, damaged, not ours."""
        doc = self._read(key)
        return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None

    def save_doc(self, key: str, doc: dict[str, Any]) -> None:
        """Store ``doc`` (JSON) like a render: 0600, atomic, with this store's MAC."""
        self._write(key, {**doc, "format": FORMAT})

    def load_findings(self, key: str) -> list[Finding] | None:
        doc = self._read(key)
        if not (isinstance(doc, dict) and doc.get("format") == FORMAT and _valid_findings(doc.get("findings"))):
            return None
        return [Finding(**f) for f in doc["findings"]]

    def save_findings(self, key: str, findings: list[Finding]) -> None:
        self._write(key, {"format": FORMAT, "findings": [f.__dict__ for f in findings]})


# -- trust ---------------------------------------------------------------------------------------
_TRUST_HOW = ("The render cache must be a directory only you can write (mode 0700 or 0755, owned by you): "
              "set HARNESS_REFARCH_CACHE to such a directory, fix its owner and mode, or run with "
              "--refarch-no-cache.")


class UntrustedCache(RefarchError, OSError):
    """A cache directory or file another user could write: refused, never followed."""


def _trusted(directory: Path) -> bool:
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def check_cache_dir(root: Path) -> None:
    """The checks of :func:`check_trusted` on the cache root and its parent, where they exist (a
    parent such as /tmp, world-writable with the sticky bit, lets nobody else rename our root)."""
    if root.parent.exists():
        check_trusted(root.parent, "render cache's parent directory", sticky_ok=True)
    if root.exists() or root.is_symlink():
        check_trusted(root, "render cache directory")


def check_trusted(directory: Path, what: str, sticky_ok: bool = False) -> None:
    """Refuse, in one paragraph, a cache directory that is a symlink, not ours, or group/world
    writable: another local user could replace entries there and flip a verdict."""
    try:
        st = os.lstat(directory)
    except OSError as exc:
        raise UntrustedCache(f"The {what} {directory} cannot be read ({exc.strerror or exc}). {_TRUST_HOW}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UntrustedCache(f"The {what} {directory} is a symbolic link; it is not followed. {_TRUST_HOW}")
    if sticky_ok and st.st_mode & stat.S_ISVTX and st.st_uid in (0, os.getuid()):
        return
    if st.st_uid != os.getuid():
        raise UntrustedCache(f"The {what} {directory} belongs to uid {st.st_uid}, not to you. {_TRUST_HOW}")
    if st.st_mode & 0o022:
        raise UntrustedCache(f"The {what} {directory} is writable by others (mode {st.st_mode & 0o777:o}). "
                             f"{_TRUST_HOW}")


# -- entry shapes --------------------------------------------------------------------------------
_FINDING_FIELDS = frozenset(Finding.__dataclass_fields__)


def _valid_findings(items: Any) -> bool:
    return isinstance(items, list) and all(
        isinstance(f, dict) and set(f) <= _FINDING_FIELDS and {"check", "workload", "field"} <= set(f)
        and all(isinstance(v, str) for v in f.values()) for f in items)


def _valid_render(doc: Any) -> bool:
    """The shape :func:`document` writes; anything else is a miss, never a traceback later."""
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("namespace"), str)):
        return False
    objects = doc.get("objects")
    if not isinstance(objects, list) or not all(
            isinstance(o, dict) and isinstance(o.get("kind", ""), str) and isinstance(o.get("metadata", {}), dict)
            for o in objects):
        return False
    digests, values = doc.get("digests", {}), doc.get("values", [])
    return (_valid_findings(doc.get("problems", [])) and isinstance(digests, dict)
            and all(isinstance(k, str) and isinstance(v, dict) for k, v in digests.items())
            and isinstance(values, list)
            and all(isinstance(v, list) and len(v) == 3 and isinstance(v[2], list) for v in values))


def document(manifest: Manifest, key: bytes = PROCESS_KEY) -> dict[str, Any]:
    """What the store writes for a manifest: object bodies with literal credentials masked, shape
    problems, and the keyed digests of Secret values and of every value the masking replaced."""
    changed: dict[tuple[str, str], list[tuple[ValuePath, str]]] = {}
    objects = []
    for obj in manifest.objects:
        found: list[tuple[ValuePath, str]] = []
        objects.append(_scrub(obj.body, (), found, key))
        if found:
            changed[(obj.kind, obj.name)] = found
    return {"format": FORMAT, "namespace": manifest.namespace, "objects": objects,
            **document_tail(manifest.problems, manifest.secret_digests, manifest.value_digests, changed)}


def document_tail(problems: Iterable[Finding], secret_digests: Mapping[tuple[str, str], dict[str, str]],
                  value_digests: Mapping[tuple[str, str], Mapping[ValuePath, str]],
                  changed: Mapping[tuple[str, str], Iterable[tuple[ValuePath, str]]]) -> dict[str, Any]:
    """The part of a stored document after its objects: shape problems, Secret value digests, and
    the digests of masked values (those kept before, then ``changed``: what masking replaced now)."""
    values = {k: dict(paths) for k, paths in value_digests.items()}
    for k, found in changed.items():
        values.setdefault(k, {}).update(found)
    return {
        "problems": [f.__dict__ for f in problems],
        "digests": {name: keys for (_, name), keys in secret_digests.items()},
        "values": [[kind, name, [[list(path), mac] for path, mac in sorted(paths.items(), key=str)]]
                   for (kind, name), paths in sorted(values.items())],
    }


def encode_joined(namespace: str, objects: Iterable[str], tail: dict[str, Any]) -> str:
    """:func:`encode` of a document whose objects are encoded already, byte for byte the same
    text (a dict's JSON is its items' JSON joined by commas, in order)."""
    head = encode({"format": FORMAT, "namespace": namespace})[:-1]
    return f'{head},"objects":[{",".join(objects)}],{encode(tail)[1:]}'


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


def canonical(manifest: Manifest, key: bytes = PROCESS_KEY) -> Manifest:
    """``manifest`` exactly as the store would give it back: masked, digested and through JSON
    (integer keys become text, dates become text), so a fresh render and a stored one are the
    same input to every check and comparison."""
    text = encode(document(manifest, key))
    made = from_document(json.loads(text), manifest.source)
    made.stored_text = (key, text)
    return made


_MASKED = "****"


def _digest(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _scrub_value(name: str, value: Any) -> Any:
    return _scrub_text(name, value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=1 << 16)
def _scrub_text(name: str, value: str) -> str:
    """A literal value as the checks need it, without the credential it may hold: connection
    strings keep their hosts (password masked), a credential-named key keeps only the fact that
    it holds a literal (the wiring check reports exactly that), switches stay as they are.
    Memoised: the same values recur in every render of a chart (a probe differs in a key or two)."""
    if CREDENTIAL_NAME.search(name) and looks_like_credential(value):
        return _MASKED
    return mask(value)


def scrub(body: Any) -> Any:
    """A copy of a (Secret-redacted) object body for disk: ConfigMap data and literal container
    env values pass through the masking function, so no credential is ever written to the cache."""
    return _scrub(body, (), [], PROCESS_KEY)


def masked(body: Any, key: bytes) -> tuple[Any, list[tuple[ValuePath, str]]]:
    """An object body as :func:`document` stores it, and the path and keyed digest of each
    value the masking replaced."""
    found: list[tuple[ValuePath, str]] = []
    return _scrub(body, (), found, key), found


def _scrub(body: Any, path: ValuePath, changed: list[tuple[ValuePath, str]], key: bytes) -> Any:
    """:func:`scrub`, noting in ``changed`` the path and keyed digest of every value it masks, so
    that two renders can still tell whether a masked value differs (generated at render time)."""
    if isinstance(body, list):
        return [_scrub(item, (*path, i), changed, key) for i, item in enumerate(body)]
    if not isinstance(body, dict):
        return body
    out = {k: _scrub(v, (*path, str(k)), changed, key) for k, v in body.items()}

    def scrubbed(name: str, where: ValuePath, value: Any) -> Any:
        new = _scrub_value(name, value)
        if new != value:
            changed.append(((*path, *where), _digest(str(value), key)))
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


# -- helm's version ------------------------------------------------------------------------------
def _version_key(helm: Helm) -> str | None:
    """The store key of the version of the program file ``helm`` runs, or None when it must be
    asked every time: a script (``#!``) may run a different helm on each call, a native program
    with the same bytes always reports the same version."""
    try:
        with helm.binary.resolve().open("rb") as fh:
            if fh.read(2) == b"#!":
                return None
        digest = program_digest(helm.binary)
    except OSError:
        return None
    return hashlib.sha256(f"helm-version\n{digest}".encode()).hexdigest()


def recall_version(helm: Helm, store: RenderStore | None) -> bool:
    """Take helm's version from the store when this exact program was asked before, so that a
    warm run starts no helm process at all. True when it was remembered."""
    key = _version_key(helm) if store is not None and known_version(helm.binary) is None else None
    doc = store.load_doc(key) if store is not None and key is not None else None
    version = doc.get("version") if isinstance(doc, dict) else None
    if isinstance(version, str) and version:
        seed_version(helm.binary, version)
        return True
    return False


def remember_version(helm: Helm, store: RenderStore | None) -> None:
    """Keep the version helm reported (asked by now) for the next run of the same program."""
    key = _version_key(helm) if store is not None else None
    version = known_version(helm.binary)
    if store is None or key is None or not version:
        return
    try:
        store.save_doc(key, {"version": version})
    except OSError:
        pass  # a full or read-only cache costs one helm call next time, never the result
