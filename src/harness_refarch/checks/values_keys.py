"""Keys that do nothing: values a layer sets that no part of the chart reads.

helm accepts any key in a values file, so a misspelled key (``ng-manger``, ``databse``), an
overlay key an older chart does not know (``global.backup.enabled``) or a key of a module the
chart does not have changes nothing and nobody notices.

A key counts as read only on evidence. Statically (:mod:`.template_reads`): a template reads
exactly that path (``.Values.a.b``, ``index``/``get``/``hasKey``, variables, ``range``, values
handed to named templates in ``dict``/``list`` and read there), or prints a parent whole
(``toYaml``); helm itself reads dependency ``condition`` paths and ``tags``. Being declared in
a ``values.yaml`` is no evidence. Every other key is only a *candidate*: whether it matters is
decided by rendering without it (:mod:`harness_refarch.engine.unread`), never by a guess. Hints name
a declared key only on evidence: a sibling one or two edits away, or the same key with the same
keys below it under another parent (a subtree that moved).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness_refarch.chart.keypaths import KeyPath, dotted
from harness_refarch.chart.template_reads import (
    ANY,
    EXACT,
    PASSED,
    RANK,
    WHOLE,
    Resolver,
    Summary,
    summarise,
    values_reads,
)
from harness_refarch.chart.tree import ChartNode, load_chart
from harness_refarch.chart.values import Layer
from harness_refarch.model.findings import Finding

CHECK = "values-keys"
READ, MAYBE, UNREAD = "read", "maybe", "unread"


class _Node:
    __slots__ = ("below", "children", "modes")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.modes: set[str] = set()
        self.below = False


class ReadTree:
    """Read paths (with ``*`` wildcards) and how each is read, queried by concrete key paths."""

    def __init__(self, reads: Mapping[KeyPath, str] | None = None) -> None:
        self.root = _Node()
        for path, mode in (reads or {}).items():
            self.add(path, mode)

    def add(self, path: KeyPath, mode: str) -> None:
        node = self.root
        for part in path:
            node.below = True
            node = node.children.setdefault(part, _Node())
        node.modes.add(mode)

    def levels(self, path: KeyPath) -> Iterator[list[_Node]]:
        """The nodes matching each prefix of ``path`` (length 1, 2, ...)."""
        current = [self.root]
        for part in path:
            current = [n for c in current for n in (c.children.get(part), c.children.get(ANY)) if n is not None]
            yield current

    def status(self, path: KeyPath) -> str:
        """``whole`` (a parent or the key is printed whole), ``node`` (the key itself or
        something below it is read), ``maybe`` (a parent is handed somewhere not followed),
        ``none``."""
        passed = False
        last: list[_Node] = []
        for depth, nodes in enumerate(self.levels(path), start=1):
            if any(WHOLE in n.modes for n in nodes):
                return "whole"
            passed = passed or any(PASSED in n.modes for n in nodes)
            if depth == len(path):
                last = nodes
        if any(n.modes & {EXACT, WHOLE} or n.below for n in last):
            return "node"
        return "maybe" if passed else "none"


@dataclass(frozen=True)
class Declared:
    """What a chart tree declares (for hints) and reads (the evidence).

    ``paths``: key paths declared in any ``values.yaml`` (with their parents) and read paths
    without wildcards. ``reads``: absolute values paths templates read, with the mode
    (``exact``/``whole``/``passed``). ``charts``: the value prefixes of the subcharts, where
    ``global`` may reappear.
    """

    paths: frozenset[KeyPath]
    charts: frozenset[KeyPath]
    reads: Mapping[KeyPath, str] = field(default_factory=dict, compare=False)
    aliases: Mapping[KeyPath, KeyPath] = field(default_factory=dict, compare=False)
    children: Mapping[KeyPath, tuple[str, ...]] = field(default_factory=dict, compare=False)
    tree: ReadTree = field(default_factory=ReadTree, compare=False)

    def normalise(self, path: KeyPath) -> KeyPath:
        """``platform.global.x`` is ``global.x``: a subchart's ``global`` is the global one."""
        for i, part in enumerate(path):
            if part == "global" and path[:i] in self.charts:
                return ("global", *path[i + 1:])
        return path

    def status(self, path: KeyPath) -> str:
        return self.tree.status(self.normalise(path))

    def covers(self, path: KeyPath) -> bool:
        """True when a template reads ``path`` exactly, a parent whole, or something below it."""
        return self.status(path) in ("whole", "node")

    @cached_property
    def by_last(self) -> dict[str, tuple[KeyPath, ...]]:
        """Declared key paths by their last key (built once: "where did it move" per unread key
        would otherwise scan every declared path)."""
        index: dict[str, list[KeyPath]] = {}
        for path in self.paths:
            index.setdefault(path[-1], []).append(path)
        return {k: tuple(v) for k, v in index.items()}

    def closest(self, path: KeyPath, value: Any = None) -> str | None:
        """The declared key the user meant, on evidence only: a subchart's name where its alias
        holds the values, a sibling one edit away, or the one place the subtree moved to."""
        key = self.normalise(path)
        for cut in range(len(key), 0, -1):
            alias = self.aliases.get(key[:cut])
            if alias is not None:
                guess = (*alias, *key[cut:])
                fuller = (*guess, *_single_chain(value))
                return dotted(fuller if fuller in self.paths else guess)
        parent, wrong = key[:-1], key[-1]
        typos = sorted(s for s in self.children.get(parent, ()) if s != wrong and _is_typo(wrong, s))
        if typos:
            guess = (*parent, typos[0])
            fuller = (*guess, *_single_chain(value))
            return dotted(fuller if fuller in self.paths else guess)
        return self.moved(key, value)

    def moved(self, key: KeyPath, value: Any) -> str | None:
        """Where a subtree went: the one declared key elsewhere with the same name and every
        leaf key path of the subtree below it. Evidence only when that place is a chart of the
        tree (a service moved to another module) or the subtree holds more than one plain key
        (``enabled`` alone is everywhere); several places are no evidence for any of them."""
        leaves = list(_leaves(value)) if isinstance(value, dict) else []
        if not leaves:
            return None
        places = [p for p in self.by_last.get(key[-1], ()) if p != key
                  and all((*p, *leaf) in self.paths for leaf in leaves)]
        if len(places) != 1:
            return None
        place = places[0]
        if place not in self.charts and len(leaves) < 2 and all(len(leaf) < 2 for leaf in leaves):
            return None
        fuller = (*place, *_single_chain(value))
        return dotted(fuller if fuller in self.paths else place)


def _leaves(value: Mapping[str, Any], prefix: KeyPath = ()) -> Iterator[KeyPath]:
    for k, v in value.items():
        if isinstance(v, dict) and v:
            yield from _leaves(v, (*prefix, k))
        else:
            yield (*prefix, k)


def _distance(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]


@functools.lru_cache(maxsize=65536)
def _is_typo(wrong: str, right: str) -> bool:
    """One edit in a key of four letters or more, two in one of eight or more, or a doubled
    letter (``hha``): short keys one edit apart (``cg``, ``cd``) are different words."""
    a, b = wrong.lower(), right.lower()
    if abs(len(a) - len(b)) > 2:  # at least that many edits apart: never a typo (no distance needed)
        return False
    shorter = min(len(a), len(b))
    d = _distance(a, b)
    if (d == 1 and shorter >= 4) or (d <= 2 and shorter >= 8):
        return True
    return d == 1 and len(a) == len(b) + 1 and any(a[i] == a[i + 1] and a[:i] + a[i + 1:] == b
                                                   for i in range(len(a) - 1))


# -- the chart tree -------------------------------------------------------------------------------
def _declare(values: Mapping[str, Any], prefix: KeyPath, paths: set[KeyPath]) -> None:
    for key, value in values.items():
        path = (*prefix, key)
        paths.add(path)
        if isinstance(value, dict) and value:
            _declare(value, path, paths)


def _global(prefix: KeyPath, path: KeyPath) -> KeyPath:
    """A chart-relative path made absolute: ``global.*`` lives at the top for every chart."""
    return path if path[:1] == ("global",) else (*prefix, *path)


def _walk(node: ChartNode, prefix: KeyPath) -> Iterator[tuple[ChartNode, KeyPath]]:
    yield node, prefix
    for sub in node.subcharts:
        yield from _walk(sub, (*prefix, sub.name))


def _fields(text: str) -> KeyPath:
    return tuple(part for part in text.split(".") if part)


def template_reads(text: str, defines: Mapping[str, list[Summary]] | None = None) -> dict[KeyPath, str]:
    """Values paths one template file reads from its top-level context, with the mode, following
    the named templates it defines (and those of ``defines``)."""
    blocks = summarise(text)
    table: dict[str, list[Summary]] = {k: list(v) for k, v in (defines or {}).items()}
    for block in blocks[1:]:
        table.setdefault(block.name or "", []).append(block)
    return values_reads(Resolver(table).expand(blocks[0]))


def _record(reads: dict[KeyPath, str], path: KeyPath, mode: str) -> None:
    if path not in reads or RANK[mode] > RANK[reads[path]]:
        reads[path] = mode


def declared_paths(chart: Path | ChartNode) -> Declared:
    """What the chart tree declares in its values.yaml files and reads in its templates."""
    root = chart if isinstance(chart, ChartNode) else load_chart(chart)
    nodes = list(_walk(root, ()))
    charts = frozenset(prefix for _, prefix in nodes)
    tops: dict[int, list[Summary]] = {}
    defines: dict[str, list[Summary]] = {}
    for node, _ in nodes:
        if id(node) in tops:
            continue
        tops[id(node)] = []
        for _, text in node.templates:
            blocks = summarise(text)
            tops[id(node)].append(blocks[0])
            for block in blocks[1:]:
                same = defines.setdefault(block.name or "", [])
                if not any(b is block for b in same):  # a library packaged into many charts
                    same.append(block)
    resolver = Resolver(defines)
    paths: set[KeyPath] = set()
    reads: dict[KeyPath, str] = {}
    for node, prefix in nodes:
        paths.update(prefix[:cut] for cut in range(1, len(prefix) + 1))
        local: set[KeyPath] = set()
        _declare(node.values, (), local)
        paths.update(_global(prefix, path) for path in local)
        if not node.library:  # a library's templates read the values of the charts using them
            for top in tops[id(node)]:
                expanded = resolver.expand(top)
                for path, mode in values_reads(expanded).items():
                    _record(reads, _global(prefix, path), mode)
                if any(r.root == "root" and r.path in ((), ("Values",)) and r.mode != EXACT for r in expanded):
                    # the whole context handed to something not followed: any key may be read
                    _record(reads, (*prefix, ANY), PASSED)
                    _record(reads, ("global", ANY), PASSED)
        for dep in node.dependencies:
            for condition in str(dep.get("condition") or "").split(","):
                if condition.strip():
                    _record(reads, _global(prefix, _fields(condition.strip())), EXACT)
            for tag in dep.get("tags") or []:
                _record(reads, ("tags", str(tag)), EXACT)
    paths.update(p for p in reads if ANY not in p)
    children: dict[KeyPath, list[str]] = {}
    for path in paths:
        children.setdefault(path[:-1], []).append(path[-1])
    aliases = {(*prefix[:-1], node.chart_name): prefix for node, prefix in nodes
               if prefix and node.chart_name != node.name and (*prefix[:-1], node.chart_name) not in charts}
    return Declared(paths=frozenset(paths), charts=charts, reads=reads, aliases=aliases,
                    children={k: tuple(sorted(v)) for k, v in children.items()}, tree=ReadTree(reads))


# -- the check -----------------------------------------------------------------------------------
def _single_chain(value: Any) -> KeyPath:
    """The keys below a map that holds exactly one key per level (``{a: {b: 1}}`` -> a.b)."""
    chain: list[str] = []
    while isinstance(value, dict) and len(value) == 1:
        key, value = next(iter(value.items()))
        chain.append(key)
    return tuple(chain)


@dataclass(frozen=True)
class Candidate:
    """A key of a layer that no template reads exactly: only a render can clear it.

    ``maybe``: a parent is handed to something the static scan does not follow, so a template
    may read it; otherwise nothing refers to it or to anything above it.
    """

    path: KeyPath
    maybe: bool


def candidates(layer: Layer, declared: Declared) -> list[Candidate]:
    """The topmost keys of ``layer`` for which no template read is known, in file order."""
    out: list[Candidate] = []

    def visit(values: Mapping[str, Any], prefix: KeyPath) -> None:
        for key, value in values.items():
            path = (*prefix, key)
            status = declared.status(path)
            if status == "whole":
                continue
            if status == "node":
                if isinstance(value, dict):
                    visit(value, path)
                continue
            out.append(Candidate(path, maybe=status == "maybe"))

    visit(layer.values, ())
    return out


def lookup_value(layer: Layer, path: KeyPath) -> Any:
    value: Any = layer.values
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def unused_keys(layer: Layer, declared: Declared, origin_label: str,
                nothing: Iterable[KeyPath] | None = None) -> list[Finding]:
    """One finding per key of ``layer`` that does nothing (the topmost such key of a subtree),
    with file, line, key path and, on evidence, the declared key it probably meant.

    ``nothing``: the candidate keys that rendering showed to do nothing (see
    :mod:`harness_refarch.engine.unread`); ``None`` reports the static candidates, for callers that
    render nothing (the static scan alone never makes a finding in a conformance run).
    ``origin_label`` names the layer for the reader, e.g. ``"architecture prod-1-incluster
    overlay"`` or ``"values file my-override.yaml"``.
    """
    confirmed = None if nothing is None else set(nothing)
    findings: list[Finding] = []
    for candidate in candidates(layer, declared):
        if confirmed is not None and candidate.path not in confirmed:
            continue
        value = lookup_value(layer, candidate.path)
        guess = declared.closest(candidate.path, value)
        findings.append(Finding(
            check=CHECK, workload=origin_label, field=dotted(candidate.path),
            expected="a key the chart reads (a template reads it, or rendering without it changes the objects)",
            actual="a key no template reads; the render without it is the same (setting it does nothing)",
            hint=f"did you mean {guess}?" if guess else "",
            source=layer.where(candidate.path)))
    return findings
