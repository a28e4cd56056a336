"""``--refarch-shard K/N`` in the pytest plugin, and what a JSON report carries for ``merge``.

A shard runs the tests of its pairs (:mod:`harness_refarch.engine.shard` decides which) and
deselects the others; the union of the N shards runs exactly the tests of one run, with the
same ids and the same verdicts:

* per-workload tests of other shards' pairs are not generated at all when nothing else narrows
  the run (their pairs are never rendered here); with ``-k``, ``-m``, ``--deselect`` or test ids
  on the command line they are generated and deselected, as one run would select them;
* the determinism test runs on each architecture's representative, the first pair of the
  architecture that *the whole run* selects, so in exactly one shard; a shard holding other
  pairs of that architecture renders the representative twice itself (its golden and DR
  comparisons learn from those renders what helm generates, as one run does);
* a test reading the previous profile's or the DR standby's render renders it in its own shard.

The JSON report of any run carries a ``run`` block: the shard and the run's matrix, what the
verdicts depend on (chart digest, options, suite, helm), each test function's place in the run
order, the gate, and what root causes need beyond the results (stable workload identities,
waiver reasons, where each values layer lives). ``harness-refarch merge`` reads it
(:mod:`harness_refarch.report.merge`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from harness_refarch import __version__
from harness_refarch.engine import shard as engine_shard
from harness_refarch.engine.session import RefarchSession
from harness_refarch.helm.binary import known_version
from harness_refarch.helm.store import code_digest, file_digest
from harness_refarch.model import chart_files
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.redact import mask_set
from harness_refarch.plugin.state import RunState, pair_of, state_of
from harness_refarch.report.rootcauses import Location, locate, parse_source

RUN_FORMAT = 1  # of the ``run`` block


@dataclass
class ShardRun:
    """This process's view of the split, and the run order of the test functions it saw."""

    members: list[list[Pair]] = field(default_factory=list)  # the pairs of every shard
    loads: list[int] = field(default_factory=list)  # each shard's estimated cost
    own: set[str] = field(default_factory=set)  # ids of this shard's pairs
    absent: dict[str, set[str]] = field(default_factory=dict)  # pair id -> kinds of tests not generated here
    collectors: dict[str, int] = field(default_factory=dict)  # collector node id -> rank in collection order
    functions: dict[str, list[int]] = field(default_factory=dict)  # function id -> [readiness, module rank, place]


def run_of(state: RunState) -> ShardRun:
    if state.shard_run is None:
        state.shard_run = ShardRun()
    run: ShardRun = state.shard_run
    return run


def _planned(state: RunState, rs: RefarchSession) -> ShardRun:
    run = run_of(state)
    if state.shard is not None and not run.members:
        run.members, run.loads = engine_shard.plan(rs, state.shard.count)
        run.own = {p.id for p in run.members[state.shard.index - 1]}
    return run


def own_pairs(config: pytest.Config) -> list[Pair] | None:
    """This shard's pairs in catalogue order; None when the run is not sharded."""
    state = state_of(config)
    rs = state.session
    if state.shard is None or rs is None:
        return None
    own = _planned(state, rs).own
    return [p for p in rs.pairs if p.id in own]


def narrowed(config: pytest.Config) -> bool:
    """Whether other shards' per-workload tests may go ungenerated (their pairs unrendered): only
    when nothing but the shard narrows the run, so which pairs the whole run selects is known
    without their renders."""
    state = state_of(config)
    if state.shard is None or state.shard.count == 1:
        return False
    option = config.option
    if option.keyword or option.markexpr or config.getoption("deselect", None):
        return False
    return not any("::" in str(arg) or "[" in str(arg) for arg in option.file_or_dir or ())


def generated(config: pytest.Config, rs: RefarchSession, needed: list[Pair], kind: str) -> list[Pair]:
    """The pairs whose per-workload tests (of ``kind``) are generated: ``needed``, or this shard's
    share of it when :func:`narrowed` (the others are remembered for :func:`widen`)."""
    if not narrowed(config):
        return needed
    run = _planned(state_of(config), rs)
    for p in needed:
        if p.id not in run.own:
            run.absent.setdefault(p.id, set()).add(kind)
    return [p for p in needed if p.id in run.own]


def representatives(config: pytest.Config, rs: RefarchSession, needed: Sequence[Pair]) -> list[Pair]:
    """The likely representative of each architecture of ``needed`` (its determinism renders are
    started early): the first needed pair, or under a narrowed shard the first of the matrix."""
    pool = rs.pairs if narrowed(config) else needed
    wanted = {p.architecture.name for p in needed}
    first: dict[str, Pair] = {}
    for p in pool:
        if p.architecture.name in wanted:
            first.setdefault(p.architecture.name, p)
    return list(first.values())


def widen(config: pytest.Config, rs: RefarchSession) -> None:
    """Under a shard, ``rs.scope_pairs``: the pairs the whole run selects (``rs.selected_pairs``,
    set from this shard's collection, plus pairs whose per-workload tests were not generated
    here but would be selected), among which each architecture's representative is picked."""
    state = state_of(config)
    if state.shard is None:
        return
    run = run_of(state)
    chosen = {p.id for p in rs.selected_pairs}
    for p in rs.pairs:
        kinds = run.absent.get(p.id)
        if p.id in chosen or not kinds:
            continue
        # "all" always yields a test (a placeholder id at worst); a narrower kind may yield none
        if "all" in kinds or any(rs.workload_ids(p, kind) for kind in sorted(kinds)):
            chosen.add(p.id)
    rs.scope_pairs = [p for p in rs.pairs if p.id in chosen]


def deselect(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (never skip) the tests of other shards' pairs; a test about no pair runs in shard 1."""
    state = state_of(config)
    rs = state.session
    if state.shard is None or rs is None:
        return
    own = _planned(state, rs).own

    def mine(item: pytest.Item) -> bool:
        pair = pair_of(item)
        return pair.id in own if pair is not None else state.shard is not None and state.shard.index == 1

    other = [item for item in items if not mine(item)]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if mine(item)]


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Every collector in collection order: a module's rank orders results across shards."""
    collectors = run_of(state_of(collector.config)).collectors
    collectors.setdefault(collector.nodeid, len(collectors))


def _position(item: pytest.Item) -> int:
    """Where ``item``'s test function stands among the names of its module (or class): pytest
    collects them in that order. Not its line: a test made by a factory has the factory's line."""
    parent = item.parent
    names = list(getattr(getattr(parent, "obj", None), "__dict__", {}))
    name = getattr(item, "originalname", item.name)
    return names.index(name) if name in names else len(names)


def note_order(config: pytest.Config, items: Sequence[pytest.Item], readiness: Callable[[pytest.Item], int]) -> None:
    """Each test function's place in the run order: readiness class (tests needing later helm
    jobs run last), its module's rank, its position in the module; within a function, catalogue
    order of pairs and then workload ids, as parametrisation makes them."""
    run = run_of(state_of(config))
    for item in items:
        function = item.nodeid.partition("[")[0]
        if function in run.functions:
            continue
        module = item.getparent(pytest.Module)
        rank = run.collectors.get(module.nodeid if module is not None else "", len(run.collectors))
        run.functions[function] = [readiness(item), rank, _position(item)]


def order_of(item: pytest.Item) -> list[int] | None:
    """The order entry of ``item``'s test function (sent with its report, for xdist)."""
    return run_of(state_of(item.config)).functions.get(item.nodeid.partition("[")[0])


def record_order(state: RunState, nodeid: str, order: Any) -> None:
    """Keep a test function's order entry as its report brings it (from a worker, or here)."""
    if isinstance(order, list):
        run_of(state).functions.setdefault(nodeid.partition("[")[0], [int(v) for v in order])


def summary_line(config: pytest.Config) -> str | None:
    """``shard K/N: M of P pairs ...`` for the terminal summary."""
    state = state_of(config)
    rs = state.session
    if state.shard is None or rs is None:
        return None
    run = _planned(state, rs)
    index = state.shard.index - 1
    share = run.loads[index] / sum(run.loads) if sum(run.loads) else 0.0
    mine = [p.id for p in run.members[index]]
    return (f"harness-refarch: shard {state.shard}: {len(mine)} of {len(rs.pairs)} pairs (estimated {share:.0%} of "
            f"the shards' work): {', '.join(mine)}")


# -- the JSON report's run block -----------------------------------------------------------------
def _tree_digest(root: Path) -> str:
    """sha256 over a data directory's files (relative path and content), caches of Python left out."""
    h = hashlib.sha256()
    if root.is_dir():
        for rel, path in chart_files.walk(root):
            if "__pycache__" in rel.parts or rel.suffix == ".pyc":
                continue
            h.update(str(rel).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _relative(path: Path | None, base: Path) -> str | None:
    return Location(path).shown(base) if path is not None else None


def _args(config: pytest.Config) -> list[str]:
    """The positional arguments, relative to the rootdir where they are below it."""
    out = []
    root = config.rootpath
    for arg in config.option.file_or_dir or ():
        text = str(arg)
        head, sep, tail = text.partition("::")
        path = Path(head)
        if path.is_absolute() and path.is_relative_to(root):
            head = path.relative_to(root).as_posix()
        out.append(head + sep + tail)
    return out


def identity(config: pytest.Config) -> dict[str, Any]:
    """What the verdicts depend on, beyond the pairs: shards of one run agree on all of it."""
    state = state_of(config)
    rs = state.session
    assert rs is not None and state.gate is not None
    o = rs.options
    waivers = state.waivers
    waiver_file = Path(waivers.source) if waivers is not None and waivers.source else None
    helm = rs.helm_found
    return {
        "suite": __version__, "code": code_digest(),
        "chart": rs.chart_id.name, "chart_version": rs.chart_id.version, "chart_digest": rs.chart_stamp.digest,
        "kube_version": o.kube_version, "helm_version": (known_version(helm.binary) or "") if helm else "",
        "release": o.release, "namespace": o.namespace,
        "values": [file_digest(v) for v in o.values], "sets": [mask_set(s) for s in o.sets],
        "manifests": [file_digest(m) for m in o.manifests], "fixtures": _tree_digest(o.fixtures),
        "profiles": list(o.profiles), "architectures": list(o.architectures),
        "update_golden": o.update_golden, "fail_on": state.gate.fail_on,
        "waivers": file_digest(waiver_file) if waiver_file is not None and waiver_file.is_file() else None,
        "node_shapes": [s.label for s in state.shapes], "node_reserve": state.reserve,
        "selection": {"keyword": config.option.keyword or "", "markexpr": config.option.markexpr or "",
                      "deselect": list(config.getoption("deselect", None) or []), "args": _args(config)},
    }


def _judges_stale(session: pytest.Session) -> bool:
    """Whether the run (apart from its shard) covers the whole selected matrix: stale waivers are judged."""
    config = session.config
    filtered = bool(config.option.keyword or config.option.markexpr or config.getoption("deselect", None)
                    or any("::" in a or a.split("::")[0].endswith(".py") for a in config.option.file_or_dir or ()))
    return not filtered and not session.shouldstop and not session.shouldfail


def report_block(session: pytest.Session, base: Path, layer_paths: Mapping[str, Path],
                 normalise: Callable[[str, str], str]) -> dict[str, Any]:
    """The ``run`` block of the JSON report (see the module's docstring)."""
    from harness_refarch.report import rootcauses

    config = session.config
    state = state_of(config)
    rs = state.session
    gate = state.gate
    assert rs is not None and gate is not None
    shard = state.shard or engine_shard.Shard(1, 1)
    own = own_pairs(config)
    found: list[tuple[str, Finding]] = list(state.found)
    chart = Path(rs.options.chart)
    fallback = chart / "Chart.yaml" if (chart / "Chart.yaml").is_file() else chart if chart.is_file() else None
    origins: dict[str, str | None] = {}
    for _, finding in found:
        source = parse_source(finding.source, layer_paths)
        if source.origin and source.origin not in origins:
            where = locate(source, layer_paths, chart if chart.is_dir() else None, None)
            origins[source.origin] = where.shown(base) if where is not None else None
    identities = sorted({(p, f.workload, normalise(p, f.workload)) for p, f in found
                         if normalise(p, f.workload) != f.workload})
    waived = sorted({(p, f.check, f.workload, f.field, reason) for p, f in found
                     if (reason := rootcauses.waiver_reason(state.waivers, f, p))})
    waivers = state.waivers
    used = waivers.usage() if waivers is not None else {}
    ran = {r.test_id.partition("[")[0] for r in state.results}  # serial or xdist: the functions with results
    return {
        "format": RUN_FORMAT,
        "identity": identity(config),
        "shard": {"index": shard.index, "count": shard.count,
                  "pairs": [p.id for p in (own if own is not None else rs.pairs)]},
        "matrix": [{"pair": p.id, "profile": p.profile.name, "architecture": p.architecture.name} for p in rs.pairs],
        "chart_dir": str(rs.chart.dir) if rs.chart is not None else "",  # HTML and Markdown show paths below it
        "selected": [p.id for p in rs.selected_pairs],
        "order": {f: place for f, place in sorted(run_of(state).functions.items()) if f in ran},
        "gate": {"fail_on": gate.fail_on, "severities": {c: {"severity": gate.severities.level(c),
                                                               "help": gate.severities.help(c)}
                                                           for c in gate.severities.checks()}},
        "root_causes": {"base": str(base), "origins": sorted(layer_paths), "locations": dict(sorted(origins.items())),
                        "fallback": _relative(fallback, base),
                        "identities": [list(t) for t in identities], "waived": [list(t) for t in waived]},
        "waivers": {
            "judged": _judges_stale(session),
            "entries": [{"describe": w.describe(), "reason": w.reason, "expired": w.is_expired(waivers.today),
                         "in_matrix": any(fnmatchcase(p.id, w.pair) for p in rs.pairs),
                         "optional": w.optional,
                         "used": bool(used.get(w.index))}
                        for w in waivers.entries] if waivers is not None else []},
    }
