"""The keys a chart declares and reads, kept in the render store.

The keys a chart tree declares in its values files and its templates read (:class:`Declared`)
are a function of the chart's content alone, yet computing them scans every template of every
subchart: 1.5 s on the released chart, a tenth of a warm run. They are stored like renders (JSON,
0600, MAC), keyed by the chart's content and the suite's code, and used only when the stored form
is exactly what was computed (a chart with a non-string key is scanned again each run). Key
paths only: the chart's default values are never stored (they may hold credentials).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness_refarch.checks.values_keys import Declared, ReadTree
from harness_refarch.helm.store import RenderStore


def _key(store: RenderStore, chart: Path, kind: str) -> str:
    return store.key(chart, (), (), "", "", "", "", 0, kind=kind)


def declared(store: RenderStore | None, chart: Path, compute: Callable[[], Declared]) -> Declared:
    """The chart's :class:`Declared`, from the store when an earlier run computed it."""
    if store is None:
        return compute()
    key = _key(store, chart, "declared-keys")
    doc = store.load_doc(key)
    found = _declared_from(doc.get("declared")) if doc is not None else None
    if found is not None:
        return found
    made = compute()
    stored = _declared_doc(made)
    if stored is not None:
        _save(store, key, {"declared": stored})
    return made


def _save(store: RenderStore, key: str, doc: dict[str, Any]) -> None:
    try:
        store.save_doc(key, doc)
    except OSError:
        pass  # a full or read-only cache costs speed, never the result


def _paths(items: Any) -> list[tuple[str, ...]] | None:
    if not isinstance(items, list) or not all(isinstance(p, list) and all(isinstance(k, str) for k in p)
                                              for p in items):
        return None
    return [tuple(p) for p in items]


def _declared_doc(d: Declared) -> dict[str, Any] | None:
    """``d`` as JSON, or None when a key is not a string (JSON would change it)."""
    doc = {"paths": sorted(map(list, d.paths)), "charts": sorted(map(list, d.charts)),
           "reads": [[list(k), v] for k, v in d.reads.items()],
           "aliases": [[list(k), list(v)] for k, v in d.aliases.items()],
           "children": [[list(k), list(v)] for k, v in d.children.items()]}
    return doc if _declared_from(json.loads(json.dumps(doc))) == d else None


def _pairs(items: Any) -> tuple[list[tuple[str, ...]], list[Any]] | None:
    """``[[key path, value], ...]`` split into the key paths and the values."""
    if not isinstance(items, list) or not all(isinstance(e, list) and len(e) == 2 for e in items):
        return None
    keys = _paths([e[0] for e in items])
    return None if keys is None else (keys, [e[1] for e in items])


def _declared_from(doc: Any) -> Declared | None:
    """The stored :class:`Declared`, or None when the entry has another shape."""
    if not isinstance(doc, dict):
        return None
    paths, charts = _paths(doc.get("paths")), _paths(doc.get("charts"))
    reads, aliases, children = (_pairs(doc.get(name)) for name in ("reads", "aliases", "children"))
    if paths is None or charts is None or reads is None or aliases is None or children is None:
        return None
    alias_targets, child_names = _paths(aliases[1]), _paths(children[1])
    if not all(isinstance(m, str) for m in reads[1]) or alias_targets is None or child_names is None:
        return None
    modes = dict(zip(reads[0], reads[1], strict=True))
    return Declared(paths=frozenset(paths), charts=frozenset(charts), reads=modes,
                    aliases=dict(zip(aliases[0], alias_targets, strict=True)),
                    children=dict(zip(children[0], child_names, strict=True)), tree=ReadTree(modes))
