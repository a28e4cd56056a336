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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness_refarch.chart.keypaths import KeyPath, dotted, key_str, lookup
from harness_refarch.chart.sets import SET_ORIGIN, SetSyntaxError, apply_set
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.manifest import SAFE_LOADER, yaml_problem
from harness_refarch.model.trees import copy_tree
from harness_refarch.model.yaml_limits import LIMITS_TEXT, YamlLimitError, compose_bounded

NOT_TRACED = "source not traced"


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
        how = "write the values out without nested aliases" if "alias" in str(exc) else "keep the file within them"
        raise RefarchError(f"Values file {path} is refused: {exc}. Values files are bounded to "
                           f"{LIMITS_TEXT}; {how}.") from None
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


# -- --set as a layer ---------------------------------------------------------------------------
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
            paths = apply_set(values, argument)
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
            out[key] = copy_tree(value)
    return out


def coalesce_defaults(user: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """helm's ``CoalesceValues``: ``user`` wins over ``defaults``, maps merge, and a ``None``
    in ``user`` deletes a key that ``defaults`` has (else it stays ``None``)."""
    out: dict[str, Any] = copy_tree(dict(user))
    _coalesce_into(out, defaults)
    return out


def _coalesce_into(out: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    for key, default in defaults.items():
        if key not in out:
            out[key] = copy_tree(default)
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
        user[key] = {} if isinstance(value, dict) else copy_tree(value)
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
            before = copy_tree(user)
            try:
                paths = apply_set(user, argument)
            except SetSyntaxError as exc:  # sets_layer validated it already; defensive
                raise RefarchError(f"--set argument #{position}: {exc}.") from exc
            positioned = Layer(origin=SET_ORIGIN, values=layer.values,
                               lines={p: position for p, _ in paths}, assignments=layer.assignments)
            for path, leaf in paths:
                was_map = isinstance(lookup(before, path)[1], dict)
                _record(setters, positioned, path, leaf, was_map)
    values = coalesce_defaults(user, base or {})
    return Merged(values=values, setters={p: tuple(c) for p, c in setters.items()}, base=dict(base or {}))
