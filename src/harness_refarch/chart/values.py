"""Values layers as helm sees them: files with line numbers, ``--set`` assignments, coalescing.

The suite reads its expectations (external hosts, TLS, database mode) from the values that
helm will actually use, and names the file, line and key that set a failing value. So this
module reproduces helm's merge exactly where it matters:

* user layers merge in order: maps merge recursively, lists and scalars replace, ``null``
  replaces too (helm's ``mergeMaps``);
* ``--set`` assignments are applied after every file, onto the merged user values (helm's
  ``strvals.ParseInto``: ``a[1]=x`` edits a list a file set, not the chart's default list);
* the result is coalesced over the chart's defaults: the user wins, maps merge, and a user
  ``null`` deletes the key when the chart has a default for it (a ``null`` for a key the chart
  does not have stays ``None``, as in helm);
* chart defaults are the umbrella's ``values.yaml`` over its subcharts' (nested under their
  alias or name), with every chart's ``global`` gathered at the top.

Key paths are tuples of strings; YAML keys are turned into strings the way helm's YAML-to-JSON
step does (``true`` -> ``"true"``). Values of files never reach an error message: they may
hold credentials.
"""

from __future__ import annotations

import copy
import io
import re
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness_refarch.model import chart_files
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.manifest import SAFE_LOADER, yaml_problem
from harness_refarch.model.yaml_limits import LIMITS_TEXT, YamlLimitError, compose_bounded, load_bounded

KeyPath = tuple[str, ...]

SET_ORIGIN = "--set"
NOT_TRACED = "source not traced"
# helm refuses list indexes above this (strvals.MaxIndex).
_MAX_INDEX = 65536
_INT64 = re.compile(r"[+-]?[0-9]+")


# -- key paths ---------------------------------------------------------------------------------
def dotted(path: Sequence[str]) -> str:
    """A key path as users write it for ``--set`` (dots inside a key escaped as ``\\.``)."""
    return ".".join(part.replace(".", "\\.") for part in path)


def key_str(key: Any) -> str:
    """A YAML mapping key as helm sees it after its YAML-to-JSON step."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def string_keys(value: Any) -> Any:
    """``value`` with every mapping key (also inside lists) turned into a string, like helm."""
    if isinstance(value, dict):
        return {key_str(k): string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [string_keys(v) for v in value]
    return value


def lookup(values: Mapping[str, Any], path: Sequence[str]) -> tuple[bool, Any]:
    """``(found, value)`` at ``path``; a missing key anywhere on the way is ``(False, None)``."""
    current: Any = values
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


# -- layers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One values source: a YAML file or the ``--set`` assignments.

    ``lines`` holds the 1-based line of every key path the layer sets (map keys included, list
    contents not: helm replaces lists whole). For ``--set`` the "line" is the position of the
    ``--set`` argument (1 = first), and ``assignments`` keeps the raw arguments so that
    :func:`coalesce` can apply them the way helm does, onto the merged files.
    """

    origin: str
    values: Mapping[str, Any]
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    path: Path | None = None
    assignments: tuple[str, ...] = ()

    @property
    def is_set(self) -> bool:
        return self.origin == SET_ORIGIN and self.path is None

    def where(self, key: KeyPath) -> str:
        """``"file.yaml:12 a.b.c"`` (or ``"--set #2 a.b.c"``): where this layer sets ``key``."""
        line = self.lines.get(key)
        if self.is_set:
            return f"{SET_ORIGIN} #{line} {dotted(key)}" if line else f"{SET_ORIGIN} {dotted(key)}"
        return f"{self.origin}:{line} {dotted(key)}" if line else f"{self.origin} {dotted(key)}"

    def key_paths(self) -> Iterator[KeyPath]:
        """Every key path this layer sets, parents before children, in file order."""
        yield from _walk_keys(self.values, ())


def _walk_keys(values: Mapping[str, Any], prefix: KeyPath) -> Iterator[KeyPath]:
    for key, value in values.items():
        path = (*prefix, key)
        yield path
        if isinstance(value, dict):
            yield from _walk_keys(value, path)


class _Composer:
    """Builds values and key lines from a composed YAML node tree (one pass, safe tags only)."""

    def __init__(self) -> None:
        self.scalars = SafeConstructor()
        self.lines: dict[KeyPath, int] = {}
        self._active: set[int] = set()

    def build(self, node: Node, path: KeyPath | None) -> Any:
        """Python value of ``node``; records key lines below it when ``path`` is not None."""
        if isinstance(node, ScalarNode):
            return self.scalars.construct_object(node, deep=True)
        if id(node) in self._active:
            raise ValueError("a recursive alias (a node that contains itself)")
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, None) for item in node.value]
            if isinstance(node, MappingNode):
                self.scalars.flatten_mapping(node)  # resolves "<<" merge keys like helm does
                out: dict[str, Any] = {}
                for key_node, value_node in node.value:
                    if not isinstance(key_node, ScalarNode):
                        raise ValueError(f"a non-scalar mapping key at line {key_node.start_mark.line + 1}")
                    key = key_str(self.scalars.construct_object(key_node, deep=True))
                    child = None if path is None else (*path, key)
                    if child is not None:
                        self.lines[child] = key_node.start_mark.line + 1
                    out[key] = self.build(value_node, child)
                return out
            raise ValueError(f"an unsupported YAML node {type(node).__name__}")
        finally:
            self._active.discard(id(node))


def load_layer(path: Path, origin: str | None = None) -> Layer:
    """Read one values file as a :class:`Layer` (values plus the line of every key path).

    ``origin`` is the name shown in messages (default: the file name). Raises RefarchError,
    naming the file but never quoting it, for unreadable, non-UTF-8, invalid or non-mapping
    files. An empty file is an empty layer, as for helm.
    """
    label = origin or path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RefarchError(f"Cannot read values file {path}: {exc.strerror or exc}. Check the path "
                           "and its permissions.") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RefarchError(f"Values file {path} is not UTF-8 text (invalid byte at offset {exc.start}); "
                           "helm values files are YAML. Pass the YAML file, not a binary or an archive, "
                           "or convert it to UTF-8.") from exc
    if "\x00" in text:
        raise RefarchError(f"Values file {path} contains NUL bytes, so it is binary data, not YAML. "
                           "Pass the YAML values file.")
    composer = _Composer()
    try:
        node = compose_bounded(text, SAFE_LOADER)
        values = {} if node is None else composer.build(node, ())
    except YamlLimitError as exc:
        raise RefarchError(f"Values file {path} is refused: {exc}. Values files are bounded to "
                           f"{LIMITS_TEXT}; write the values out without nested aliases.") from None
    except yaml.YAMLError as exc:
        raise RefarchError(f"Values file {path} is not valid YAML: {yaml_problem(exc)}. Fix the file "
                           "(helm rejects it too; a YAML linter such as yamllint points at the line).") from exc
    except ValueError as exc:
        raise RefarchError(f"Values file {path} cannot be read as helm values: it has {exc}. Use plain "
                           "string keys and no self-referencing anchors.") from exc
    if values is None:
        values = {}
    if not isinstance(values, dict):
        kind = "list" if isinstance(values, list) else "single value"
        raise RefarchError(f"Values file {path} holds a {kind} at the top level, not a mapping of keys; "
                           "helm values files start with keys such as 'global:'. Fix the file.")
    return Layer(origin=label, values=values, lines=composer.lines, path=path)


# -- --set (helm's strvals) --------------------------------------------------------------------
class SetSyntaxError(ValueError):
    """A ``--set`` argument helm would reject; the message names keys only, never values."""


class _SetParser:
    """helm's ``strvals`` parser for ``--set`` (typed values), applied onto an existing map.

    ``paths`` receives ``(key path, is_leaf)`` for every key the assignment sets; a path stops
    at the first list index, since the list is then what the layer sets.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.paths: list[tuple[KeyPath, bool]] = []

    # scanner
    def _until(self, stops: str) -> tuple[str, str | None]:
        """Runes up to the first unescaped stop rune (consumed); ``None`` stop at the end."""
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
                continue
            if char in stops:
                return "".join(out), char
            out.append(char)
        return "".join(out), None

    @staticmethod
    def _typed(text: str) -> Any:
        """helm's ``typedVal``: true/false/null (any case), base-10 int64 not starting with 0."""
        lowered = text.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        if lowered == "null":
            return None
        if text == "0":
            return 0
        if text and text[0] != "0" and _INT64.fullmatch(text):
            number = int(text)
            if -(2**63) <= number < 2**63:
                return number
        return text

    def _value_list(self) -> list[Any] | None:
        """``{a,b}`` after ``=``; None (nothing consumed) when the value is not a list."""
        if self.pos >= len(self.text) or self.text[self.pos] != "{":
            return None
        self.pos += 1
        items: list[Any] = []
        while True:
            item, stop = self._until(",}")
            if stop is None:
                raise SetSyntaxError("a list value must end with '}'")
            items.append(self._typed(item))
            if stop == "}":
                if self.pos < len(self.text) and self.text[self.pos] == ",":
                    self.pos += 1
                return items

    def _value(self) -> Any:
        listed = self._value_list()
        if listed is not None:
            return listed
        text, _ = self._until(",")
        return self._typed(text)

    def _index(self, key: str) -> int:
        text, stop = self._until("]")
        if stop is None or not re.fullmatch(r"-?[0-9]+", text):
            raise SetSyntaxError(f"key {key!r} has a list index that is not a number")
        index = int(text)
        if index < 0:
            raise SetSyntaxError(f"key {key!r} has a negative list index")
        if index > _MAX_INDEX:
            raise SetSyntaxError(f"key {key!r} has a list index above helm's limit {_MAX_INDEX}")
        return index

    @staticmethod
    def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
        if len(items) <= index:
            items = items + [None] * (index + 1 - len(items))
        items[index] = value
        return items

    def parse_into(self, data: dict[str, Any]) -> None:
        """Apply every comma-separated assignment of the argument onto ``data``."""
        while self.pos < len(self.text):
            self._key(data, ())

    def _key(self, data: dict[str, Any], prefix: KeyPath) -> None:
        key, stop = self._until("=[,.")
        path = (*prefix, key)
        if stop is None:
            if not key and not prefix:
                return  # a trailing comma
            raise SetSyntaxError(f"key {dotted(path)!r} has no value")
        if not key:
            raise SetSyntaxError(f"an empty key after {dotted(prefix)!r}" if prefix else "an empty key")
        if stop == ",":
            raise SetSyntaxError(f"key {dotted(path)!r} has no value (a comma ends it)")
        if stop == "=":
            self.paths.append((path, True))
            data[key] = self._value()
            return
        if stop == ".":
            inner = data.get(key)
            if not isinstance(inner, dict):
                inner = {}
            self.paths.append((path, False))
            self._key(inner, path)
            data[key] = inner
            return
        # stop == "[": a list, whatever it holds is set as a whole
        index = self._index(dotted(path))
        existing = data.get(key)
        items = list(existing) if isinstance(existing, list) else []
        self.paths.append((path, True))
        data[key] = self._list_item(items, index, path)

    def _list_item(self, items: list[Any], index: int, path: KeyPath) -> list[Any]:
        rest, stop = self._until("[.=")
        if rest:
            raise SetSyntaxError(f"key {dotted(path)!r} has unexpected text after a list index")
        if stop is None:
            raise SetSyntaxError(f"key {dotted(path)!r} has no value")
        if stop == "=":
            if self.pos >= len(self.text):
                return self._set_index(items, index, "")
            return self._set_index(items, index, self._value())
        if stop == "[":
            inner_index = self._index(dotted(path))
            current = items[index] if len(items) > index else None
            nested = list(current) if isinstance(current, list) else []
            return self._set_index(items, index, self._list_item(nested, inner_index, path))
        current = items[index] if len(items) > index else None
        inner = current if isinstance(current, dict) else {}
        sub = _SetParser(self.text)
        sub.pos = self.pos
        sub._key(inner, ())
        self.pos = sub.pos
        return self._set_index(items, index, inner)


def _apply_set(data: dict[str, Any], argument: str) -> list[tuple[KeyPath, bool]]:
    parser = _SetParser(argument)
    parser.parse_into(data)
    return parser.paths


def sets_layer(assignments: Sequence[str]) -> Layer:
    """The ``--set`` arguments as one :class:`Layer` (origin ``--set``, line = argument position).

    Each argument may hold several comma-separated assignments, as for helm. Values are typed
    like helm's ``--set`` (true/false/null, int64; everything else a string; ``{a,b}`` lists).
    Raises RefarchError naming the argument's position and key, never its value.
    """
    values: dict[str, Any] = {}
    lines: dict[KeyPath, int] = {}
    for position, argument in enumerate(assignments, start=1):
        try:
            paths = _apply_set(values, argument)
        except SetSyntaxError as exc:
            raise RefarchError(f"--set argument #{position} is not valid helm --set syntax: {exc}. Write "
                               "key.path=value (a\\.b for a dot inside a key, list[0]=x, {a,b} for a list; "
                               "several assignments separated by commas).") from exc
        for path, _ in paths:
            lines[path] = position
    return Layer(origin=SET_ORIGIN, values=values, lines=lines, assignments=tuple(assignments))


# -- coalescing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setter:
    """One layer setting one key path: ``leaf`` when it set a non-map (so owns all below)."""

    layer: Layer
    path: KeyPath
    leaf: bool

    def __str__(self) -> str:
        return self.layer.where(self.path)

    def short(self) -> str:
        """``"file.yaml:12"`` / ``"--set #2"``: the place only."""
        line = self.layer.lines.get(self.path)
        if self.layer.is_set:
            return f"{SET_ORIGIN} #{line}" if line else SET_ORIGIN
        return f"{self.layer.origin}:{line}" if line else self.layer.origin


def merge_maps(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """helm's ``mergeMaps`` for user layers: maps merge, anything else (``None`` too) replaces."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merge_maps(current, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def coalesce_defaults(user: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """helm's ``CoalesceValues``: ``user`` wins over ``defaults``, maps merge, and a ``None``
    in ``user`` deletes a key that ``defaults`` has (else it stays ``None``)."""
    out: dict[str, Any] = copy.deepcopy(dict(user))
    _coalesce_into(out, defaults)
    return out


def _coalesce_into(out: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    for key, default in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(default)
        elif out[key] is None:
            del out[key]
        elif isinstance(out[key], dict) and isinstance(default, dict):
            _coalesce_into(out[key], default)


@dataclass(frozen=True)
class Merged:
    """The coalesced values plus, for every key path a layer set, which layers set it."""

    values: Mapping[str, Any]
    setters: Mapping[KeyPath, tuple[Setter, ...]]
    base: Mapping[str, Any] = field(default_factory=dict)

    def get(self, path: Sequence[str], default: Any = None) -> Any:
        found, value = lookup(self.values, path)
        return value if found else default

    def setter(self, path: Sequence[str]) -> Setter | None:
        """The layer whose value for ``path`` won (the last one that set it), if any."""
        chain = self.setters.get(tuple(path))
        return chain[-1] if chain else None

    def source(self, path: Sequence[str]) -> str:
        """``"override-large.yaml:212 a.b"`` (``", overriding my.yaml:3"`` when earlier layers set it
        too) for the layer that set ``path``; ``""`` when no layer set it (chart default or unknown)."""
        chain = self.setters.get(tuple(path))
        if not chain:
            return ""
        text = str(chain[-1])
        earlier = [s.short() for s in reversed(chain[:-1])]
        return f"{text}, overriding {', '.join(earlier)}" if earlier else text

    def source_prefix(self, path: Sequence[str]) -> str:
        """Best-effort source of ``path``, even below what layers record (list items, keys below
        a value a layer replaced): the nearest parent a layer set as a whole. ``""`` when the
        value is the chart's default, ``"source not traced"`` when it cannot be told."""
        key = tuple(path)
        exact = self.source(key)
        if exact:
            return exact
        for cut in range(len(key) - 1, 0, -1):
            chain = self.setters.get(key[:cut])
            if chain:
                if chain[-1].leaf:
                    return self.source(key[:cut])
                break
        if key and lookup(self.base, key)[0] and lookup(self.values, key)[0]:
            return ""
        return NOT_TRACED


def _record(setters: dict[KeyPath, list[Setter]], layer: Layer, path: KeyPath, leaf: bool,
            replaced_map: bool) -> None:
    """Note that ``layer`` set ``path``; a leaf replacing a map drops the setters below it."""
    if leaf and replaced_map:
        depth = len(path)
        for other in [p for p in setters if len(p) > depth and p[:depth] == path]:
            del setters[other]
    setters.setdefault(path, []).append(Setter(layer, path, leaf))


def _merge_file(user: dict[str, Any], values: Mapping[str, Any], layer: Layer, prefix: KeyPath,
                setters: dict[KeyPath, list[Setter]]) -> None:
    for key, value in values.items():
        path = (*prefix, key)
        current = user.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _record(setters, layer, path, False, False)
            _merge_file(current, value, layer, path, setters)
            continue
        _record(setters, layer, path, not isinstance(value, dict), isinstance(current, dict))
        user[key] = {} if isinstance(value, dict) else copy.deepcopy(value)
        if isinstance(value, dict):
            _merge_file(user[key], value, layer, path, setters)


def coalesce(layers: Sequence[Layer], base: Mapping[str, Any] | None = None) -> Merged:
    """Merge ``layers`` over ``base`` (the chart's defaults) exactly as ``helm template`` does.

    File layers merge in the given order; ``--set`` layers apply after all files (helm's fixed
    order) onto the merged files, and the result is coalesced over ``base``. Provenance is kept
    per key path: see :meth:`Merged.source`.
    """
    user: dict[str, Any] = {}
    setters: dict[KeyPath, list[Setter]] = {}
    files = [layer for layer in layers if not layer.is_set]
    sets = [layer for layer in layers if layer.is_set]
    for layer in files:
        _merge_file(user, layer.values, layer, (), setters)
    for layer in sets:
        for position, argument in enumerate(layer.assignments, start=1):
            before = copy.deepcopy(user)
            try:
                paths = _apply_set(user, argument)
            except SetSyntaxError as exc:  # sets_layer validated it already; defensive
                raise RefarchError(f"--set argument #{position}: {exc}.") from exc
            positioned = Layer(origin=SET_ORIGIN, values=layer.values,
                               lines={p: position for p, _ in paths}, assignments=layer.assignments)
            for path, leaf in paths:
                was_map = isinstance(lookup(before, path)[1], dict)
                _record(setters, positioned, path, leaf, was_map)
    values = coalesce_defaults(user, base or {})
    return Merged(values=values, setters={p: tuple(c) for p, c in setters.items()}, base=dict(base or {}))


# -- what a values setting means for the architecture -------------------------------------------
def truthy(value: Any) -> bool:
    """Go template truth (``{{ if }}``): false, 0, "", nil and empty collections are false;
    the *string* ``"false"`` is true."""
    return value not in (None, False, 0, "") and value != [] and value != {}


@dataclass(frozen=True)
class Contradiction:
    """A merged value that contradicts what the architecture under test needs."""

    path: KeyPath
    expected: str
    actual: str
    source: str  # "my.yaml:4 global.database.mongo.installed", "" (chart default), or NOT_TRACED

    def __str__(self) -> str:
        key = dotted(self.path)
        if not self.source:
            where = "the chart's default"
        else:  # "f.yaml:4 <key>, overriding ..." -> "f.yaml:4, overriding ...": the key is said already
            place, _, rest = self.source.partition(" ")
            where = "set by " + (place + rest[len(key):] if rest.startswith(key) else self.source)
        return f"{key} is {self.actual} ({where}), but the architecture needs {self.expected}"


def _describe(found: bool, value: Any) -> str:
    """A value safe to print: booleans, numbers and null only (other values may be secrets)."""
    if not found:
        return "unset (removed by null or never set)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f"a {type(value).__name__} that counts as {'true' if truthy(value) else 'false'}"


def database_contradiction(merged: Merged, database: str, in_cluster: bool) -> Contradiction | None:
    """Which layer and key make ``database`` (``mongo``, ``postgres``, ``redis``,
    ``timescaledb``) external when the architecture needs it in-cluster, or the reverse.

    The chart runs a database in-cluster when ``global.database.<db>.installed`` is true in the
    Go-template sense; None when the merged values agree with ``in_cluster``. ``str()`` of the
    result reads::

        global.database.mongo.installed is false (set by my-override.yaml:4), but the
        architecture needs true (mongo in-cluster)
    """
    path: KeyPath = ("global", "database", database, "installed")
    found, value = lookup(merged.values, path)
    if truthy(value) == in_cluster:
        return None
    # A null on the way is a leaf set by a layer, so source_prefix names it too.
    source = merged.source(path) or merged.source_prefix(path)
    mode = "in-cluster" if in_cluster else "external"
    return Contradiction(path, f"{'true' if in_cluster else 'false'} ({database} {mode})",
                         _describe(found, value), source)


# -- chart defaults --------------------------------------------------------------------------------
_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".tpl", ".txt", ".json")


@dataclass(frozen=True)
class ChartNode:
    """One chart of a chart tree, as helm assembles it (aliases applied, nothing rendered)."""

    name: str  # the key of its values in the parent: the alias, else the chart name
    chart_name: str
    library: bool
    values: Mapping[str, Any]
    templates: tuple[tuple[str, str], ...]  # (path inside the chart, text)
    dependencies: tuple[Mapping[str, Any], ...]
    subcharts: tuple[ChartNode, ...]
    where: str  # for messages: a directory or "archive.tgz:chart/"


def _chart_yaml(files: Mapping[str, bytes], name: str, where: str) -> Any:
    data = files.get(name)
    if data is None:
        return None
    try:
        return load_bounded(data.decode("utf-8-sig"), SAFE_LOADER)
    except YamlLimitError as exc:
        raise RefarchError(f"{name} of the chart at {where} is refused: {exc}. Chart files are bounded to "
                           f"{LIMITS_TEXT}.") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else "not UTF-8 text"
        raise RefarchError(f"{name} of the chart at {where} cannot be read: {problem}. Fix that file "
                           "(helm lint reports it too).") from exc


def _read_dir(root: Path) -> dict[str, bytes]:
    """The files of a chart directory that matter for values (not every file of the tree)."""
    files: dict[str, bytes] = {}
    for rel_path, path in chart_files.walk(root):  # symlinked subcharts and templates followed, as helm does
        parts, name = rel_path.parent.parts, rel_path.name
        keep = (name in ("Chart.yaml", "values.yaml", "requirements.yaml")
                or ("templates" in parts and name.endswith(_TEMPLATE_SUFFIXES))
                or (parts and parts[-1] == "charts" and name.endswith((".tgz", ".tar.gz"))))
        if keep:
            try:
                files[rel_path.as_posix()] = path.read_bytes()
            except OSError as exc:
                raise RefarchError(f"Cannot read {path}: {exc.strerror or exc}. Check "
                                   "the chart's file permissions.") from exc
    return files


def _read_tgz(data: bytes, where: str) -> dict[str, bytes]:
    """The files of a packaged chart (``helm package`` output), relative to its top directory."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive.getmembers():
                if not member.isfile():
                    continue
                parts = PurePosixPath(member.name).parts
                if len(parts) < 2:
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    files["/".join(parts[1:])] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RefarchError(f"Packaged chart {where} is not a readable .tgz archive ({exc}). Re-create it "
                           "with 'helm package' or 'helm dependency build'.") from exc
    return files


def _subtree(files: Mapping[str, bytes], prefix: str) -> dict[str, bytes]:
    return {name[len(prefix):]: data for name, data in files.items() if name.startswith(prefix)}


def _chart_from_files(files: Mapping[str, bytes], where: str, alias: str | None = None) -> ChartNode:
    meta = _chart_yaml(files, "Chart.yaml", where)
    if not isinstance(meta, dict) or not meta.get("name"):
        raise RefarchError(f"{where} is not a helm chart: no Chart.yaml with a name. Point at the chart "
                           "directory (the one holding Chart.yaml) or a .tgz made by 'helm package'.")
    raw_values = _chart_yaml(files, "values.yaml", where)
    if raw_values is not None and not isinstance(raw_values, dict):
        raise RefarchError(f"values.yaml of the chart at {where} is not a mapping of keys. Fix that file.")
    deps = meta.get("dependencies")
    if deps is None:
        requirements = _chart_yaml(files, "requirements.yaml", where)
        deps = requirements.get("dependencies") if isinstance(requirements, dict) else None
    dependencies = tuple(d for d in (deps or []) if isinstance(d, dict) and d.get("name"))
    templates = tuple(sorted((name, data.decode("utf-8", errors="replace")) for name, data in files.items()
                             if name.startswith("templates/") and name.endswith(_TEMPLATE_SUFFIXES)))
    loaded: list[ChartNode] = []
    seen: set[str] = set()
    for name in sorted(files):
        parts = name.split("/")
        if len(parts) >= 3 and parts[0] == "charts" and parts[2] == "Chart.yaml" and len(parts) == 3:
            if parts[1] not in seen:
                seen.add(parts[1])
                loaded.append(_chart_from_files(_subtree(files, f"charts/{parts[1]}/"),
                                                f"{where}/charts/{parts[1]}"))
        elif len(parts) == 2 and parts[0] == "charts" and name.endswith((".tgz", ".tar.gz")):
            label = f"{where}/{name}"
            loaded.append(_chart_from_files(_read_tgz(files[name], label), label))
    subcharts: list[ChartNode] = []
    for sub in loaded:
        entries = [d for d in dependencies if d.get("name") == sub.chart_name]
        if not entries:
            subcharts.append(sub)
        for entry in entries:
            subcharts.append(_renamed(sub, str(entry.get("alias") or sub.chart_name)))
    return ChartNode(name=alias or str(meta["name"]), chart_name=str(meta["name"]),
                     library=meta.get("type") == "library", values=string_keys(raw_values or {}),
                     templates=templates, dependencies=dependencies, subcharts=tuple(subcharts), where=where)


def _renamed(node: ChartNode, name: str) -> ChartNode:
    if name == node.name:
        return node
    return ChartNode(name=name, chart_name=node.chart_name, library=node.library, values=node.values,
                     templates=node.templates, dependencies=node.dependencies, subcharts=node.subcharts,
                     where=node.where)


def load_chart(chart: Path) -> ChartNode:
    """The chart tree of a chart directory or packaged ``.tgz``: values, templates, subcharts
    (directories and ``.tgz`` under ``charts/``, recursively, aliases applied)."""
    if chart.is_file():
        try:
            data = chart.read_bytes()
        except OSError as exc:
            raise RefarchError(f"Cannot read chart {chart}: {exc.strerror or exc}. Check the path.") from exc
        return _chart_from_files(_read_tgz(data, str(chart)), str(chart))
    if not chart.is_dir():
        raise RefarchError(f"Chart {chart} does not exist. Pass a chart directory or a .tgz made by "
                           "'helm package'.")
    return _chart_from_files(_read_dir(chart), str(chart))


def _effective(node: ChartNode) -> dict[str, Any]:
    values = copy.deepcopy(dict(node.values))
    globals_: dict[str, Any] = values.pop("global", None) or {}
    if not isinstance(globals_, dict):
        globals_ = {}
    for sub in node.subcharts:
        sub_values = _effective(sub)
        sub_globals = sub_values.pop("global", None) or {}
        globals_ = coalesce_defaults(globals_, sub_globals)
        mine = values.get(sub.name)
        if isinstance(mine, dict):
            values[sub.name] = coalesce_defaults(mine, sub_values)
        elif sub.name not in values or mine is None:
            values[sub.name] = sub_values
    if globals_:
        values["global"] = globals_
    return values


def chart_values(chart: Path | ChartNode) -> dict[str, Any]:
    """The chart's effective default values: the umbrella's over its subcharts' (nested under
    their alias or name, recursively), with every chart's ``global`` merged at the top, the
    parent's winning. Dependency conditions are not evaluated: every subchart contributes."""
    node = chart if isinstance(chart, ChartNode) else load_chart(chart)
    return _effective(node)
