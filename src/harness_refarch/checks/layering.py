"""What the values layers of a render do: keys that do nothing, values that contradict the
architecture under test, and where a failing value was set.

The layers are those of ``helm template`` (architecture overlay, the user's files, the profile
file, ``--set``) coalesced the way helm does (see :mod:`harness_refarch.chart.values`).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from harness_refarch.chart.architecture import database_contradiction
from harness_refarch.chart.keypaths import KeyPath
from harness_refarch.chart.values import NOT_TRACED, Layer, Merged
from harness_refarch.checks.registry import Context, check
from harness_refarch.checks.values_keys import CHECK as VALUES_KEYS
from harness_refarch.checks.values_keys import Declared, unused_keys
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest
from harness_refarch.model.quantities import QuantityError, jvm_heap_bytes, parse_quantity

CHECK = "layering"


def keys_not_read(layers: Iterable[tuple[Layer, str]], declared: Declared,
                  nothing: Iterable[KeyPath] | None = None) -> list[Finding]:
    """Every key a layer sets that no template reads and whose removal ``nothing`` proved to
    change nothing (see :mod:`harness_refarch.engine.unread`), with "did you mean" on evidence."""
    proven = None if nothing is None else frozenset(nothing)
    out: list[Finding] = []
    for layer, label in layers:
        out += unused_keys(layer, declared, label, proven)
    return out


def contradictions(spec: Pair, merged: Merged) -> list[Finding]:
    """Databases the merged values run in-cluster when the architecture needs them external,
    or the reverse; the finding names the file, line and key that did it."""
    out = []
    for db, expectation in sorted(spec.architecture.databases.items()):
        found = database_contradiction(merged, db, expectation.in_cluster)
        if found is not None:
            mode = "in-cluster" if expectation.in_cluster else "external"
            out.append(Finding(CHECK, f"{db} database", "global.database." + db + ".installed",
                               f"{found.expected.split(' ')[0]} ({mode}, as architecture "
                               f"{spec.architecture.name} needs)", found.actual,
                               "the values layers make this a different architecture",
                               source=found.source or "the chart's default"))
    return out


def effective(spec: Pair, merged: Merged) -> Pair:
    """``spec`` with each external database's expected hosts read from the merged values (the
    user's own hosts win over the architecture's example hosts), not from fixture constants."""
    databases = {}
    for db, expectation in spec.architecture.databases.items():
        hosts = merged.get(("global", "database", db, "hosts"))
        if not expectation.in_cluster and isinstance(hosts, list):
            expectation = dataclasses.replace(expectation, hosts=tuple(str(h) for h in hosts))
        databases[db] = expectation
    return dataclasses.replace(spec, architecture=dataclasses.replace(spec.architecture, databases=databases))


# -- where a failing value came from -------------------------------------------------------------
# A finding's field (as the checks phrase it) -> the value key paths (tails) that set it.
_FIELD_TAILS: tuple[tuple[str, tuple[KeyPath, ...]], ...] = (
    ("effective replicas (hpa)", (("autoscaling", "minReplicas"),)),
    ("effective replicas (spec.replicas)", (("replicaCount",), ("replicas",))),
    ("effective replicas (default)", (("replicaCount",), ("replicas",))),
    ("hpa.min", (("autoscaling", "minReplicas"),)),
    ("hpa.max", (("autoscaling", "maxReplicas"),)),
    ("replicas", (("replicaCount",), ("replicas",), ("autoscaling", "minReplicas"))),
    ("MEMORY", (("java", "memory"),)),
)


def _tails(field: str) -> tuple[KeyPath, ...]:
    for prefix, tails in _FIELD_TAILS:
        if field.startswith(prefix):
            return tails
    parts = field.replace("containers.", "").split(".")
    for marker in ("requests", "limits"):
        if marker in parts:  # resources.requests.cpu, containers.x.requests.cpu, ...
            i = parts.index(marker)
            return (("resources", marker, *parts[i + 1:i + 2]),)
    return ()


def _workload_name(workload: str) -> str:
    key = workload.split(" container ", 1)[0] if " container " in workload else workload.split(" ", 1)[0]
    return key.split("/", 1)[1] if "/" in key else ""


_ABSENT = {"", "missing", "absent", "none", "unset", "(none)"}


def _rendered(actual: str) -> str | None:
    """The rendered value a finding reports (its first word: ``1``, ``4096m (80%)``), ``None``
    when the render has none (``missing``, ``absent``)."""
    token = actual.strip().split(" ", 1)[0].strip(",;")
    return None if token.lower() in _ABSENT else token


def _same(value: Any, rendered: str | None, field: str) -> bool:
    """Whether a values line's ``value`` is the ``rendered`` one: numbers and quantities by
    amount (``0.5`` is ``500m``, ``4096`` MiB of heap is ``4096m``), anything else as text."""
    if rendered is None or value is None or isinstance(value, Mapping | list):
        return False
    text = str(value).strip()
    if text == rendered:
        return True
    parsers: list[Callable[[str], Any]] = [jvm_heap_bytes] if field.startswith("MEMORY") else [int, parse_quantity]
    for parse in parsers:
        try:
            return bool(parse(text) == parse(rendered))
        except (ValueError, ArithmeticError, QuantityError):
            continue
    return False


class SetPaths:
    """The key paths the layers set, indexed for tracing: by the value key they end with, then by
    each key above it (built once per tail, on first use), and the hits per (tails, workload
    name). Tracing every finding of a run then costs one pass over the paths per distinct tail,
    and a lookup per finding, instead of a scan of every path per finding."""

    def __init__(self, paths: Iterable[KeyPath]) -> None:
        self.paths = tuple(dict.fromkeys(paths))
        self._by_tail: dict[KeyPath, tuple[dict[str, set[KeyPath]], list[str]]] = {}
        self._hits: dict[tuple[tuple[KeyPath, ...], str], list[KeyPath]] = {}

    def _segments(self, tail: KeyPath) -> tuple[dict[str, set[KeyPath]], list[str]]:
        """Paths longer than ``tail`` that end with it, by each key above the tail (keys of
        three characters or more), and those keys sorted."""
        found = self._by_tail.get(tail)
        if found is None:
            n, by_key = len(tail), dict[str, set[KeyPath]]()
            for path in self.paths:
                if len(path) > n and path[-n:] == tail:
                    for seg in path[:-n]:
                        if len(seg) > 2:
                            by_key.setdefault(seg, set()).add(path)
            found = self._by_tail[tail] = (by_key, sorted(by_key))
        return found

    def hits(self, tails: tuple[KeyPath, ...], name: str) -> list[KeyPath]:
        """Sorted paths ending with one of ``tails`` with a key above it that names the workload:
        the name itself, a prefix of it ending before a ``-`` (``ng-manager`` for
        ``ng-manager-abc``), or a key that starts with it."""
        memo = (tails, name)
        if memo not in self._hits:
            found: set[KeyPath] = set()
            for tail in tails:
                by_key, keys = self._segments(tail)
                wanted = {name[:i] for i, c in enumerate(name) if c == "-"}
                i = bisect.bisect_left(keys, name)
                while i < len(keys) and keys[i].startswith(name):
                    wanted.add(keys[i])
                    i += 1
                for key in wanted:
                    found.update(by_key.get(key, ()))
            self._hits[memo] = sorted(found)
        return self._hits[memo]


def trace(finding: Finding, merged: Merged, paths: Sequence[KeyPath] | SetPaths) -> str:
    """``file:line key`` of the layer that set the value a finding is about, generically: a key
    path a layer set whose segments name the workload and end with the field's value key.
    ``""`` when the field is not value-driven; ``"source not traced"`` when unsure. Use
    :func:`explain` to also learn when the line's value is not what was rendered."""
    return explain(finding, merged, paths)[0]


def _hit(finding: Finding, paths: SetPaths) -> tuple[KeyPath | None, bool]:
    """The one key path a layer set for the finding's workload and field, and whether there were
    several candidates."""
    tails = _tails(finding.field)
    name = _workload_name(finding.workload)
    if not tails or not name:
        return None, False
    hits = paths.hits(tails, name)
    return (hits[0], False) if len(hits) == 1 else (None, bool(hits))


def explain(finding: Finding, merged: Merged, paths: Sequence[KeyPath] | SetPaths) -> tuple[str, str]:
    """``(source, note)``: the source only when the line's value is what was rendered; else no
    source and a note saying that the key does not reach the object (a template decides)."""
    hit, several = _hit(finding, paths if isinstance(paths, SetPaths) else SetPaths(paths))
    if hit is None:
        return (NOT_TRACED if several else ""), ""
    value = merged.get(hit)
    rendered = _rendered(finding.actual)
    if _same(value, rendered, finding.field):
        return merged.source(hit), ""
    where = merged.source(hit)
    shown = "no value" if rendered is None else rendered
    return "", (f"{where} sets {value}, but the render has {shown}: that key does not reach "
                "this field (the chart's template decides it)")


# merged values -> (them, their set paths indexed): one index per values stack of a run, not per
# check; bounded, and the Merged is kept so that its id stays its own
_INDEXES: dict[int, tuple[Merged, SetPaths]] = {}
_MAX_INDEXES = 256


def set_paths(merged: Merged) -> SetPaths:
    """The index of the key paths ``merged``'s layers set, built once per values stack."""
    cached = _INDEXES.get(id(merged))
    if cached is None or cached[0] is not merged:
        if len(_INDEXES) >= _MAX_INDEXES:
            _INDEXES.pop(next(iter(_INDEXES)))
        cached = _INDEXES[id(merged)] = (merged, SetPaths(merged.setters))
    return cached[1]


def with_sources(findings: Iterable[Finding], merged: Merged) -> list[Finding]:
    """Findings with their ``source`` filled where a values layer set the failing value; where a
    layer set the key but the render shows another value, a note says the key does not reach it."""
    paths = set_paths(merged)
    out = []
    for f in findings:
        if not f.source:
            source, note = explain(f, merged, paths)
            if source:
                f = dataclasses.replace(f, source=source)
            elif note:
                f = dataclasses.replace(f, hint=f"{note}; {f.hint}" if f.hint else note)
        out.append(f)
    return out


# -- the checks of the values layers ---------------------------------------------------------------
def _keys(ctx: Context, pair: Pair, roles: set[str]) -> list[Finding]:
    """Keys of the layers with these roles that rendering proved to do nothing; the DR
    standby's own overlay is judged on the standby's stack."""
    stacks = [False]
    if pair.architecture.standby_overlay is not None and "architecture" in roles:
        stacks.append(True)
    out = []
    for standby in stacks:
        layers = [(layer, label) for layer, label, role in ctx.labelled_layers(pair, standby)
                  if role in roles and (not standby or layer.path == pair.architecture.standby_overlay)]
        out += keys_not_read(layers, ctx.declared, ctx.unread(pair, standby).nothing)
    return out


@check("architecture_expressible", findings=(VALUES_KEYS,), needs=("unread",), context=True,
       doc="Every key the architecture overlay sets is read by this chart; otherwise the architecture is silently "
           "not what its name says.")
def architecture_expressible(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    return _keys(ctx, pair, {"architecture"})


@check("value_keys_read", findings=(VALUES_KEYS,), needs=("unread",), context=True,
       doc="Every key of the profile file, your values files and --refarch-set is read by the chart (a misspelled "
           "key does nothing); findings name file, line and the key you probably meant.")
def value_keys_read(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    return _keys(ctx, pair, {"profile", "user", "set"})


@check("values_match_architecture", findings=(CHECK,), context=True,
       doc="The merged values run each database where the architecture says (in-cluster or external).")
def values_match_architecture(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    return contradictions(pair, ctx.merged(pair))
