"""Keys that do nothing, decided by rendering: group testing over the static candidates.

The static scan (:mod:`harness_refarch.checks.values_keys`) names the keys of a values stack
that no template is seen reading. Rendering decides each of them: the stack is rendered with
the candidates removed (each values file that sets one replaced by a private copy without it,
``--set`` assignments of it dropped) and compared with the normal render modulo what two renders of
identical inputs change (:class:`~harness_refarch.model.identity.Volatility`). Unchanged: all of
them do nothing. Changed (or the render fails): the group is split in two and each half is
tried again, down to single keys, until :data:`MAX_PROBES` renders were spent; keys still
undecided then are never reported. A candidate that a template *may* read through something
the scan does not follow (``maybe``), or that a ``values.yaml`` declares (its default would
stand in for the removed key), must also leave the render unchanged when every value the
layers set under it is overwritten with a sentinel string.

When more than one group was found to do nothing, one last render removes all of them at
once, so that every reported key is proven together.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from harness_refarch.chart.keypaths import KeyPath, dotted, lookup
from harness_refarch.checks.values_keys import candidates
from harness_refarch.helm.render import RenderRequest
from harness_refarch.helm.store import RenderStore, scrub
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.identity import Volatility, identities, learn_volatile
from harness_refarch.model.manifest import SAFE_DUMPER, Manifest
from harness_refarch.model.trees import copy_tree

if TYPE_CHECKING:
    from harness_refarch.chart.values import Layer
    from harness_refarch.checks.values_keys import Declared
    from harness_refarch.helm.binary import Helm
    from harness_refarch.helm.render import RenderCache
    from harness_refarch.model.catalog import Pair


class RefarchSession(Protocol):
    """What probing needs of the run's session (engine.session.RefarchSession is one): the
    values layers of a pair, render requests, the render cache and a private work directory."""

    @property
    def options(self) -> Any: ...
    @property
    def declared(self) -> Declared: ...
    @property
    def cache(self) -> RenderCache: ...
    def labelled_layers(self, pair: Pair, standby: bool = False) -> list[tuple[Layer, str, str]]: ...
    def layer(self, path: Path) -> Layer: ...
    def private_dir(self, name: str) -> Path: ...
    def request(self, pair: Pair, standby: bool = False, repeat: int = 0) -> RenderRequest: ...
    def manifest(self, pair: Pair, standby: bool = False) -> Manifest: ...
    def volatility(self, pair: Pair) -> Volatility: ...
    def unread(self, pair: Pair, standby: bool = False) -> Decision: ...
    def representative(self, pair: Pair) -> Pair: ...
    @property
    def helm(self) -> Helm: ...

MAX_PROBES = 8  # "without" renders per values stack, the last confirmation included
SENTINEL = "harness-refarch-probe-value"


@dataclass(frozen=True)
class Decision:
    """What rendering showed for the candidates of one values stack."""

    nothing: frozenset[KeyPath] = frozenset()  # proven to change nothing
    matters: frozenset[KeyPath] = frozenset()  # rendering without them changes the objects
    undecided: frozenset[KeyPath] = frozenset()  # the render budget ran out first
    renders: int = 0
    notes: tuple[str, ...] = field(default=())


class Undecidable(Exception):
    """A probe render failed for a reason of the machine, not of the inputs (helm hung, crashed,
    could not start): what it would have shown is unknown, so nothing is decided from it."""


def decide(keys: Sequence[KeyPath], changes: Callable[[Sequence[KeyPath]], bool],
           max_probes: int = MAX_PROBES) -> Decision:
    """Adaptive group testing: ``changes(group)`` renders without ``group`` and says whether
    anything changed. Deterministic for a given order of ``keys``."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return Decision()
    nothing: list[KeyPath] = []
    matters: set[KeyPath] = set()
    undecided: set[KeyPath] = set()
    notes: list[str] = []
    groups_clear = 0
    renders = 0
    todo: list[list[KeyPath]] = [keys]
    budget = max_probes - (1 if len(keys) > 1 else 0)  # keep one render for the confirmation
    while todo:
        group = todo.pop(0)
        if renders >= budget:
            undecided.update(group)
            continue
        renders += 1
        try:
            changed = changes(group)
        except Undecidable as exc:  # a verdict never rests on a machine's hiccup
            undecided.update(group)
            for rest in todo:
                undecided.update(rest)
            todo = []
            notes.append(f"a probe render failed for a reason of the machine, not the values ({exc})")
            break
        if not changed:
            nothing += group
            groups_clear += 1
        elif len(group) == 1:
            matters.update(group)
        else:
            half = (len(group) + 1) // 2
            todo[:0] = [group[:half], group[half:]]
    if groups_clear > 1:
        renders += 1
        if _changes_or_undecided(changes, nothing):  # together they do something: report none of them
            undecided.update(nothing)
            notes.append(f"{len(nothing)} key(s) each change nothing alone but do together")
            nothing = []
    if undecided:
        notes.append(f"{len(undecided)} key(s) left undecided after {renders} extra render(s)")
    return Decision(frozenset(nothing), frozenset(matters), frozenset(undecided), renders, tuple(notes))


def _changes_or_undecided(changes: Callable[[Sequence[KeyPath]], bool], group: Sequence[KeyPath]) -> bool:
    """The confirming probe: a machine failure counts as a change (nothing is reported)."""
    try:
        return changes(group)
    except Undecidable:
        return True


def probe_values(keys: Iterable[KeyPath], value: Any = None) -> dict[str, Any]:
    """A values layer setting each key path to ``value`` (``None``: removed)."""
    out: dict[str, Any] = {}
    paths = sorted(set(keys))
    for path in paths:
        if any(path[:cut] in paths for cut in range(1, len(path))):
            continue  # a parent is removed already
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return out


def set_key(assignment: str) -> KeyPath:
    """The key path of a ``--set`` assignment (``a.b\\.c[0]=x`` -> a, b.c)."""
    import re

    key = assignment.split("=", 1)[0]
    parts = re.split(r"(?<!\\)\.", key)
    return tuple(re.sub(r"\[\d+\]$", "", p).replace("\\.", ".") for p in parts)


def without_sets(sets: Sequence[str], keys: Iterable[KeyPath]) -> tuple[str, ...]:
    """``--set`` assignments that touch none of ``keys``."""
    removed = list(keys)
    return tuple(s for s in sets if not any(set_key(s)[:len(k)] == k for k in removed))


def same_objects(a: Manifest, b: Manifest, volatility: Volatility,
                 prepared: tuple[dict[Any, Any], dict[Any, Any]] | None = None) -> bool:
    """Whether two renders hold the same objects, modulo what identical renders change.
    ``prepared``: :func:`comparable` of ``a`` under ``volatility`` (a chain compares one pair's
    render with each of its probes: that side is prepared once)."""
    ia, bodies = prepared if prepared is not None else comparable(a, volatility)
    ib = identities(b.objects, volatility)
    if ia.keys() != ib.keys():
        return False
    for ident, obj in ia.items():
        other = ib[ident]
        if bodies[ident] != scrub(volatility.strip(other.body)):
            return False
        if obj.kind == "Secret" and not _same_secret(obj.name, other.name, a, b, volatility):
            return False
    return True


def comparable(m: Manifest, volatility: Volatility) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """``m``'s objects by identity, and each one's body as compared: in the representation the
    render store keeps (one render may come from the store and the other from helm; masking is
    idempotent), without what identical renders change."""
    ids = identities(m.objects, volatility)
    return ids, {ident: scrub(volatility.strip(obj.body)) for ident, obj in ids.items()}


def _same_secret(name_a: str, name_b: str, a: Manifest, b: Manifest, volatility: Volatility) -> bool:
    da: Mapping[str, str] = a.secret_digests.get(("Secret", name_a), {})
    db: Mapping[str, str] = b.secret_digests.get(("Secret", name_b), {})
    volatile = set(volatility.paths_of("Secret", name_a))
    for key in set(da) | set(db):
        if da.get(key) != db.get(key):
            section = (da.get(key) or db.get(key) or "").split(":", 1)[0]
            if (section, key) not in volatile:
                return False
    return True


# -- one values stack of a session ---------------------------------------------------------------
def stack_candidates(rs: RefarchSession, pair: Pair, standby: bool = False) -> dict[KeyPath, bool]:
    """Candidate key paths of every layer of the stack, in render order -> ``maybe``."""
    found: dict[KeyPath, bool] = {}
    declared = rs.declared
    for layer, _, _ in rs.labelled_layers(pair, standby):
        for candidate in candidates(layer, declared):
            # a default in some values.yaml would stand in for a removed key: overwrite it too
            overwrite = candidate.maybe or declared.normalise(candidate.path) in declared.paths
            found[candidate.path] = found.get(candidate.path, False) or overwrite
    return found


def probe_request(rs: RefarchSession, request: RenderRequest, keys: Sequence[KeyPath],
                  value: Any = None) -> RenderRequest:
    """``request`` without ``keys``: each values file that sets one of them is replaced by a
    copy without it (``value=None``), or one more layer sets them all to ``value``. The files
    are written to the session's private work directory, named by their content."""
    import hashlib

    def private(doc: Mapping[str, Any]) -> Path:
        # libyaml's emitter (the representer is PyYAML's safe one either way): 124 probe files
        # of the released chart took 1.6 CPU-seconds with the pure-Python emitter
        text = yaml.dump(dict(doc), Dumper=SAFE_DUMPER, sort_keys=True)
        path = rs.private_dir("probes") / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.yaml"
        if not path.is_file():  # stacks are decided on several threads: never expose a partial file
            tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        return path

    if value is not None:  # every value the layers set under the keys, overwritten (same shape)
        shaped: dict[str, Any] = {}
        for path in request.values:
            _merge(shaped, _overwritten(rs.layer(path).values, keys, value))
        return dataclasses.replace(request, values=(*request.values, private(shaped)),
                                   label=f"{request.label} overwriting {len(keys)} key(s)")
    files = []
    for path in request.values:
        values = rs.layer(path).values
        kept = without_keys(values, keys)
        files.append(path if kept == values else private(kept))
    return dataclasses.replace(request, values=tuple(files), sets=without_sets(request.sets, keys),
                               label=f"{request.label} without {len(keys)} key(s)")


def _overwritten(values: Mapping[str, Any], keys: Iterable[KeyPath], value: Any) -> dict[str, Any]:
    """The parts of ``values`` under ``keys``, each leaf replaced by ``value``."""
    def leaves(node: Any) -> Any:
        return {k: leaves(v) for k, v in node.items()} if isinstance(node, dict) and node else value

    out: dict[str, Any] = {}
    for key in keys:
        found, node = lookup(values, key)
        if found:
            _merge(out, probe_values([key], leaves(node)))
    return out


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for k, v in other.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = copy_tree(v)


def without_keys(values: Mapping[str, Any], keys: Iterable[KeyPath]) -> Mapping[str, Any]:
    """``values`` without the given key paths (the same object when none of them is there)."""
    out: Any = values
    for key in keys:
        if not lookup(out, key)[0]:
            continue
        out = copy_tree(dict(out)) if out is values else out
        node = out
        for part in key[:-1]:
            node = node[part]
        del node[key[-1]]
    result: Mapping[str, Any] = out
    return result


def decide_stack(rs: RefarchSession, pair: Pair, standby: bool = False) -> Decision:
    """Which candidate keys of the pair's values stack change nothing when removed: the stored
    decision of an earlier run on the same inputs, else decided by rendering (and stored when
    every render it needed succeeded). Under the store's lock for that decision, so a second
    process (a ``pytest -n`` worker) asking for a stack another is deciding waits for its
    decision instead of making every probe render's comparison again."""
    clean = [True]  # no render it needed failed (a failure may be a timeout: never stored, like failed renders)
    key = _decision_key(rs, pair, standby)
    store = rs.cache.store
    if key is None or store is None:
        return _decide(rs, pair, standby, clean)

    def save(k: str, decision: Decision) -> None:
        if clean[0]:
            store.save_doc(k, {"decision": _to_doc(decision)})

    decision, _ = store.load_or_make(key, lambda k: _load_decision(store, k),
                                     lambda: _decide(rs, pair, standby, clean), save)
    return decision


def _decide(rs: RefarchSession, pair: Pair, standby: bool, clean: list[bool]) -> Decision:
    try:
        found = stack_candidates(rs, pair, standby)
    except RefarchError:
        return Decision(notes=("the values layers cannot be read",))
    if not found:
        return Decision()
    try:
        base = rs.manifest(pair, standby)
    except RefarchError:
        clean[0] = False
        return Decision(undecided=frozenset(found), notes=("the render itself failed",))
    request = rs.request(pair, standby)
    learned: list[Volatility] = [rs.volatility(pair)]

    prepared: dict[int, tuple[dict[Any, Any], dict[Any, Any]]] = {}  # by learned volatility's place

    def same_as_base(other: Manifest) -> bool:
        index = len(learned) - 1
        if index not in prepared:  # the pair's side, once per chain (a chain runs on one thread)
            prepared[index] = comparable(base, learned[index])
        return same_objects(base, other, learned[index], prepared[index])

    def same(other: Manifest) -> bool:
        if same_as_base(other):
            return True
        if len(learned) == 1:  # what two renders of exactly this stack change
            try:
                learned.append(learn_volatile(base, rs.cache.get(rs.request(pair, standby, repeat=1))))
            except RefarchError:
                clean[0] = False
                return False
            return same_as_base(other)
        return False

    def changes(group: Sequence[KeyPath]) -> bool:
        values: list[Any] = [None, SENTINEL] if any(found[k] for k in group) else [None]
        for value in values:
            result = rs.cache.result(probe_request(rs, request, group, value))
            if result.failure is not None and result.failure.transient:
                raise Undecidable(result.failure.reason)
            if result.manifest is None:
                clean[0] = False
                return True
            if not same(result.manifest):
                return True
        return False

    return decide(list(found), changes)


def _decision_key(rs: RefarchSession, pair: Pair, standby: bool) -> str | None:
    """Where a stack's decision is kept in the render store: a function of everything it is
    decided from, the stack's inputs (chart, values files by content, ``--set``, release,
    namespace, Kubernetes and helm versions, the suite's code) and the stack whose second render
    says what identical renders change (:meth:`RefarchSession.volatility`). None without a store."""
    store = rs.cache.store
    if store is None:
        return None
    request, rep = rs.request(pair, standby), rs.request(rs.representative(pair), repeat=1)
    identity = rs.helm.identity
    try:
        volatility = store.key(rep.chart, rep.values, rep.sets, rep.release, rep.namespace, rep.kube_version,
                               identity, rep.repeat)
        return store.key(request.chart, request.values, request.sets, request.release, request.namespace,
                         request.kube_version, identity, 0, kind=f"unread-decision:{volatility}")
    except OSError:  # a values file vanished: decided (and failing) the long way
        return None


def stored_decision(rs: RefarchSession, pair: Pair, standby: bool = False) -> Decision | None:
    """The decision an earlier run stored for exactly these inputs (never renders), or None."""
    key = _decision_key(rs, pair, standby)
    if key is None or rs.cache.store is None:
        return None
    return _load_decision(rs.cache.store, key)


def _load_decision(store: RenderStore, key: str) -> Decision | None:
    doc = store.load_doc(key)
    return _from_doc(doc.get("decision")) if doc is not None else None


def _to_doc(decision: Decision) -> dict[str, Any]:
    return {"nothing": sorted(map(list, decision.nothing)), "matters": sorted(map(list, decision.matters)),
            "undecided": sorted(map(list, decision.undecided)), "renders": decision.renders,
            "notes": list(decision.notes)}


def _from_doc(doc: Any) -> Decision | None:
    """The stored decision, or None when the entry has another shape (then decided again)."""
    if not isinstance(doc, dict):
        return None
    sets = [doc.get(name) for name in ("nothing", "matters", "undecided")]
    if not all(isinstance(s, list) and all(isinstance(p, list) and p and all(isinstance(k, str) for k in p)
                                           for p in s) for s in sets):
        return None
    renders, notes = doc.get("renders"), doc.get("notes")
    if not isinstance(renders, int) or not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        return None
    nothing, matters, undecided = (frozenset(tuple(p) for p in s) for s in sets)  # type: ignore[union-attr]
    return Decision(nothing, matters, undecided, renders, tuple(notes))


# -- an architecture the chart cannot express ---------------------------------------------------
RELIES_ON_FILE = "architecture-keys.yaml"
EXPRESSIBLE_TEST = "test_architecture_expressible"


@functools.lru_cache(maxsize=8)
def _relies_on_table(fixtures: Path) -> dict[str, tuple[tuple[KeyPath, ...], tuple[str, ...]]]:
    """``check name -> (overlay key paths, globs of the finding fields they decide)`` from
    ``<fixtures>/architecture-keys.yaml`` (empty when the file does not exist). A check written as
    a plain list of keys covers all its findings."""
    from harness_refarch.model.catalog import load_yaml

    path = fixtures / RELIES_ON_FILE
    if not path.is_file():
        return {}
    doc = load_yaml(path, "architecture keys file")
    table = doc.get("relies_on") if isinstance(doc, dict) else None
    how = (f"{path} must hold 'relies_on:' mapping each check name to a list of dotted overlay keys "
           "(e.g. 'hpa_bounds: [global.autoscaling]') or to 'keys:' and 'fields:' lists (the globs of the "
           "finding fields those keys decide). Fix the file.")
    if not isinstance(table, dict):
        raise RefarchError(how)
    out: dict[str, tuple[tuple[KeyPath, ...], tuple[str, ...]]] = {}
    for check, entry in table.items():
        keys, fields = (entry, ["*"]) if isinstance(entry, list) else (
            (entry.get("keys"), entry.get("fields", ["*"])) if isinstance(entry, dict) else (None, None))
        if not isinstance(keys, list) or not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise RefarchError(how)
        out[str(check)] = (tuple(tuple(str(k).split(".")) for k in keys), tuple(fields))
    return out


def relies_on(fixtures: Path) -> dict[str, tuple[KeyPath, ...]]:
    """``check name -> overlay key paths`` it relies on."""
    return {check: keys for check, (keys, _) in _relies_on_table(fixtures).items()}


def decided_by_keys(fixtures: Path, check: str, findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """``findings`` split into (those the check's relied-on overlay keys decide, the others): an
    unread ``global.pdb`` explains a missing PDB, not a missing anti-affinity."""
    globs = _relies_on_table(fixtures).get(check, ((), ()))[1]
    decided = [f for f in findings if any(fnmatch.fnmatchcase(f.field, g) for g in globs)]
    return decided, [f for f in findings if not any(fnmatch.fnmatchcase(f.field, g) for g in globs)]


def inexpressible(rs: RefarchSession, pair: Pair, check: str, hidden: int = 0) -> Finding | None:
    """The one finding a dependent check reports, in place of its ``hidden`` own findings, when
    an overlay key it relies on does nothing on this chart (proven by rendering), else None."""
    wanted = relies_on(rs.options.fixtures).get(check, ())
    if not wanted:
        return None
    stacks = [False] + ([True] if pair.architecture.standby_overlay is not None else [])
    hits: list[tuple[KeyPath, str]] = []
    for standby in stacks:
        nothing = rs.unread(pair, standby).nothing
        if not nothing:
            continue
        for layer, _, role in rs.labelled_layers(pair, standby):
            if role != "architecture":
                continue
            for path in nothing:
                if lookup(layer.values, path)[0] and any(
                        path[:len(k)] == k or k[:len(path)] == path for k in wanted):
                    hits.append((path, layer.where(path)))
    if not hits:
        return None
    hits = sorted(set(hits))
    keys = ", ".join(dict.fromkeys(dotted(p) for p, _ in hits))
    return Finding(
        "architecture", f"architecture {pair.architecture.name}", keys,
        "overlay keys this check relies on, read by the chart",
        f"read by nothing: the chart cannot express {pair.architecture.name}"
        + (f"; this check's {hidden} finding(s) are not listed until it can" if hidden else ""),
        f"reported once by {EXPRESSIBLE_TEST}[{pair.id}]; use a chart that reads these keys or "
        "change the architecture's overlay", source=hits[0][1])
