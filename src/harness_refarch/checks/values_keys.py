"""Keys that do nothing: values a layer sets that the chart neither declares nor reads.

helm accepts any key in a values file, so a misspelled key (``ng-manger``, ``databse``) or an
overlay key an older chart does not know (``global.backup.enabled``) changes nothing and
nobody notices. A key counts as used when the chart declares it (any ``values.yaml`` of the
tree, under the subchart's alias or name; ``global`` at the top) or a template reads it
(``.Values.a.b``, ``$.Values``, ``.root.Values``, ``get/index/hasKey`` on them and on
variables holding them). Reading ``.Values.a`` uses everything below ``a`` (``toYaml``), and a
key declared as ``{}`` or null accepts anything below it. A library chart's templates read
the values of every chart that depends on it and of that chart's subcharts (named templates
are global to a chart tree). helm itself reads dependency ``condition`` paths and ``tags``.

Known blind spot, by design: a bare ``.Values`` handed to another template under a new name
(``dict "values" .Values``) is not followed; keys read only that way must be in values.yaml.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness_refarch.findings import Finding
from harness_refarch.values import ChartNode, KeyPath, Layer, dotted, load_chart

CHECK = "values-keys"

_FIELD = r"(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
# `.Values.a.b` whatever precedes it: `$.Values`, `.root.Values`, `$root.Values`.
_VALUES_REF = re.compile(r"\.Values\b(" + _FIELD + r")")
# `$v := .root.Values.x` / `$v = $.Values`: a variable standing for a values path.
_ALIAS_DEF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(?:\$[A-Za-z0-9_]*|\.[A-Za-z_][A-Za-z0-9_]*)*"
                        r"\.Values\b(" + _FIELD + r")(?![.\w])")
_VAR_REF = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)(" + _FIELD + r")")
_STRING = r'"(?:[^"\\]|\\.)*"'
# `get <expr> "key"`, `hasKey <expr> "key"`, `index <expr> "a" "b"` on a values expression.
_LOOKUP = re.compile(r"\b(get|hasKey|index)\s+\(?\s*((?:\$[A-Za-z0-9_]*|\.[A-Za-z_][A-Za-z0-9_]*)+)\s*\)?"
                     r"((?:\s+" + _STRING + r")+)")


@dataclass(frozen=True)
class Declared:
    """Every key path a chart declares or reads.

    ``paths``: declared paths, each with all its parents. ``open``: paths below which anything
    is accepted (read whole by a template, or declared as ``{}``/null). ``charts``: the value
    prefixes of the subcharts (``("platform", "ng-manager")``), where ``global`` may reappear.
    """

    paths: frozenset[KeyPath]
    open: frozenset[KeyPath]
    charts: frozenset[KeyPath]
    children: Mapping[KeyPath, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def normalise(self, path: KeyPath) -> KeyPath:
        """``platform.global.x`` is ``global.x``: a subchart's ``global`` is the global one."""
        for i, part in enumerate(path):
            if part == "global" and path[:i] in self.charts:
                return ("global", *path[i + 1:])
        return path

    def covers(self, path: KeyPath) -> bool:
        """True when the chart declares or reads ``path``."""
        key = self.normalise(path)
        if key in self.paths:
            return True
        return any(key[:cut] in self.open for cut in range(1, len(key)))

    def closest(self, path: KeyPath) -> str | None:
        """The declared key the user probably meant (sibling spelling, then a moved subtree)."""
        key = self.normalise(path)
        for cut in range(len(key)):
            if key[: cut + 1] not in self.paths and not any(key[:c] in self.open for c in range(1, cut + 1)):
                break
        else:
            return None
        parent, wrong, rest = key[:cut], key[cut], key[cut + 1:]
        siblings = self.children.get(parent, ())
        for match in difflib.get_close_matches(wrong, siblings, n=1, cutoff=0.6):
            guess = (*parent, match)
            fuller = (*guess, *rest)
            return dotted(fuller if self.covers(fuller) else guess)
        # The right key in the wrong place: a declared path ending with what the user wrote.
        tail = key[cut:]
        moved = sorted(p for p in self.paths if len(p) > len(tail) and p[-len(tail):] == tail)
        if moved:
            return dotted(min(moved, key=len))
        names = {dotted(p): p for p in self.paths}
        found = difflib.get_close_matches(dotted(key), list(names), n=1, cutoff=0.75)
        return found[0] if found else None


# -- templates ----------------------------------------------------------------------------------
def _fields(text: str) -> KeyPath:
    return tuple(part for part in text.split(".") if part)


def _strings(text: str) -> list[str]:
    return [s[1:-1].replace('\\"', '"') for s in re.findall(_STRING, text)]


def _values_expr(expr: str, aliases: Mapping[str, KeyPath]) -> KeyPath | None:
    """The values path a Go-template expression stands for, None when it is not one."""
    match = re.fullmatch(r"(?:\$[A-Za-z0-9_]*|\.[A-Za-z_][A-Za-z0-9_]*)*\.Values(" + _FIELD + ")", expr)
    if match:
        return _fields(match.group(1))
    match = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)(" + _FIELD + ")", expr)
    if match and match.group(1) in aliases:
        return aliases[match.group(1)] + _fields(match.group(2))
    return None


@dataclass(frozen=True)
class TemplateBlock:
    """One named template (``define``) or the top-level text of a template file."""

    name: str | None
    reads: frozenset[KeyPath]  # values paths relative to the chart, each read whole
    includes: frozenset[str]  # names of the templates it includes
    dynamic: bool  # includes a template whose name is computed


_DEFINE_NAME = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")
_INCLUDE = re.compile(r"\b(?:include|template)\s+(\"[^\"]*\"|[^\s\"])")
_RANGE_BEFORE = re.compile(r"range\s+(?:\$[A-Za-z0-9_]*\s*,\s*)?$")


def _block_reads(block: str) -> set[KeyPath]:
    """Values paths one block reads, following variables that hold a values path.

    ``$b := .Values.global.backup`` followed by ``$b.enabled`` reads ``global.backup.enabled``
    only; ``$b`` used bare (``toYaml $b``, ``index $b $kind``) or ranged over reads it whole.
    """
    reads: set[KeyPath] = set()
    aliases: dict[str, KeyPath] = {}
    in_definition: list[tuple[int, int]] = []
    definition_starts: set[int] = set()
    for match in _ALIAS_DEF.finditer(block):
        base = _fields(match.group(2))
        aliases[match.group(1)] = base
        in_definition.append(match.span())
        definition_starts.add(match.start())
        if base and _RANGE_BEFORE.search(block[: match.start()]):
            reads.add(base)
    for match in _VALUES_REF.finditer(block):
        path = _fields(match.group(1))
        if path and not any(a <= match.start() < b for a, b in in_definition):
            reads.add(path)
    looked_up: set[int] = set()
    for match in _LOOKUP.finditer(block):
        target = _values_expr(match.group(2), aliases)
        keys = _strings(match.group(3))
        if target is None or not keys:
            continue
        looked_up.add(match.start(2))
        reads.add(target + (tuple(keys) if match.group(1) == "index" else (keys[0],)))
    for match in _VAR_REF.finditer(block):
        name, rest = match.group(1), _fields(match.group(2))
        if name not in aliases or match.start() in definition_starts or match.start() in looked_up:
            continue
        path = aliases[name] + rest
        if path:  # a bare .Values handed on is not followed (see the module docstring)
            reads.add(path)
    return reads


def template_blocks(text: str) -> list[TemplateBlock]:
    """The blocks of one template file: its top-level text, then one per ``define``."""
    marks = list(_DEFINE_NAME.finditer(text))
    pieces: list[tuple[str | None, str]] = [(None, text[: marks[0].start()] if marks else text)]
    for mark, following in itertools.zip_longest(marks, marks[1:]):
        pieces.append((mark.group(1), text[mark.end(): following.start() if following else len(text)]))
    blocks = []
    for name, body in pieces:
        includes = _INCLUDE.findall(body)
        blocks.append(TemplateBlock(
            name=name, reads=frozenset(_block_reads(body)),
            includes=frozenset(i[1:-1] for i in includes if i.startswith('"')),
            dynamic=any(not i.startswith('"') for i in includes)))
    return blocks


def template_reads(text: str) -> set[KeyPath]:
    """Every values path one template file reads (relative to its chart), in any block."""
    return {path for block in template_blocks(text) for path in block.reads}


# -- the chart tree -------------------------------------------------------------------------------
def _declare(values: Mapping[str, Any], prefix: KeyPath, sub_prefixes: frozenset[KeyPath],
             paths: set[KeyPath], open_: set[KeyPath]) -> None:
    for key, value in values.items():
        path = (*prefix, key)
        paths.add(path)
        if isinstance(value, dict) and value:
            _declare(value, path, sub_prefixes, paths, open_)
        elif (value is None or value == {}) and path not in sub_prefixes and path != ("global",):
            open_.add(path)


def _global(prefix: KeyPath, path: KeyPath) -> KeyPath:
    """A chart-relative path made absolute: ``global.*`` lives at the top for every chart."""
    return path if path[:1] == ("global",) else (*prefix, *path)


def _walk(node: ChartNode, prefix: KeyPath) -> Iterator[tuple[ChartNode, KeyPath]]:
    yield node, prefix
    for sub in node.subcharts:
        yield from _walk(sub, (*prefix, sub.name))


def _chart_reads(own: list[TemplateBlock], defines: Mapping[str, list[TemplateBlock]],
                 library_blocks: list[TemplateBlock]) -> set[KeyPath]:
    """What one chart's templates read, through every named template they include
    (transitively, wherever it is defined: named templates are global to a chart tree)."""
    reads: set[KeyPath] = set()
    todo = list(own)
    seen_names: set[str] = set()
    dynamic = False
    while todo:
        block = todo.pop()
        reads |= block.reads
        dynamic = dynamic or block.dynamic
        for name in block.includes - seen_names:
            seen_names.add(name)
            todo.extend(defines.get(name, ()))
    if dynamic:  # a computed template name: assume it may be any library template
        for block in library_blocks:
            reads |= block.reads
    return reads


def declared_paths(chart: Path | ChartNode) -> Declared:
    """Every key path the chart tree declares in its values.yaml files or reads in templates."""
    root = chart if isinstance(chart, ChartNode) else load_chart(chart)
    nodes = list(_walk(root, ()))
    charts = frozenset(prefix for _, prefix in nodes)
    blocks: dict[int, list[TemplateBlock]] = {}
    defines: dict[str, list[TemplateBlock]] = {}
    library_blocks: list[TemplateBlock] = []
    for node, _ in nodes:
        if id(node) in blocks:
            continue
        found = [b for _, text in node.templates for b in template_blocks(text)]
        blocks[id(node)] = found
        for block in found:
            if block.name is not None:
                defines.setdefault(block.name, []).append(block)
                if node.library:
                    library_blocks.append(block)
    paths: set[KeyPath] = set()
    open_: set[KeyPath] = set()
    for node, prefix in nodes:
        paths.update(prefix[:cut] for cut in range(1, len(prefix) + 1))
        local: set[KeyPath] = set()
        local_open: set[KeyPath] = set()
        _declare(node.values, (), frozenset((sub.name,) for sub in node.subcharts), local, local_open)
        paths.update(_global(prefix, path) for path in local)
        open_.update(_global(prefix, path) for path in local_open)
        if not node.library:  # a library's templates read the values of the charts using them
            for path in _chart_reads(blocks[id(node)], defines, library_blocks):
                full = _global(prefix, path)
                open_.add(full)
                paths.update(full[:cut] for cut in range(1, len(full) + 1))
        for dep in node.dependencies:
            for condition in str(dep.get("condition") or "").split(","):
                if condition.strip():
                    full = _global(prefix, _fields(condition.strip()))
                    paths.update(full[:cut] for cut in range(1, len(full) + 1))
            for tag in dep.get("tags") or []:
                paths.update({("tags",), ("tags", str(tag))})
    children: dict[KeyPath, list[str]] = {}
    for path in paths:
        children.setdefault(path[:-1], []).append(path[-1])
    return Declared(paths=frozenset(paths), open=frozenset(open_), charts=charts,
                    children={k: tuple(sorted(v)) for k, v in children.items()})


# -- the check -----------------------------------------------------------------------------------
def _single_chain(value: Any) -> KeyPath:
    """The keys below a map that holds exactly one key per level (``{a: {b: 1}}`` -> a.b)."""
    chain: list[str] = []
    while isinstance(value, dict) and len(value) == 1:
        key, value = next(iter(value.items()))
        chain.append(key)
    return tuple(chain)


def unused_keys(layer: Layer, declared: Declared, origin_label: str) -> list[Finding]:
    """One finding per key of ``layer`` that the chart neither declares nor reads (the topmost
    such key of a subtree), with file, line, key path and the declared key it probably meant.

    ``origin_label`` names the layer for the reader, e.g. ``"architecture prod-1-incluster
    overlay"`` or ``"values file my-override.yaml"``.
    """
    findings: list[Finding] = []

    def visit(values: Mapping[str, Any], prefix: KeyPath) -> None:
        for key, value in values.items():
            path = (*prefix, key)
            if not declared.covers(path):
                guess = declared.closest((*path, *_single_chain(value)))
                findings.append(Finding(
                    check=CHECK, workload=origin_label, field=dotted(path),
                    expected="a key the chart declares in a values.yaml or reads in a template",
                    actual="a key this chart never reads (setting it does nothing)",
                    hint=f"did you mean {guess}?" if guess else "",
                    source=layer.where(path)))
            elif isinstance(value, dict):
                visit(value, path)

    visit(layer.values, ())
    return findings
