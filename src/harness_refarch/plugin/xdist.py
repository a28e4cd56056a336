"""pytest-xdist support: whole pairs per worker, each worker its own share, each render once.

Registered by the plugin only when pytest-xdist is loaded. Three things make ``-n`` worth it:

* **Pairs, not tests, are the unit of work.** xdist's default ``--dist load`` deals tests out
  one by one, so every worker needs every render and computes every check of every pair again.
  When ``-n`` is given without ``--dist``, the tests of one pair go to one worker instead
  (xdist's load-scope scheduling, scoped by pair id); an explicit ``--dist`` is honoured.
* **Each worker knows its share from the start.** The controller splits the pairs among the
  workers as ``--refarch-shard`` splits them among machines (balanced by estimated cost, pairs
  that read each other's renders together) and tells each worker its share. A worker starts its
  share's renders, lints and "keys that do nothing" probe chains as soon as it has collected, as
  a serial run does for every pair, so the chains (each a sequence of renders) overlap the whole
  run instead of trailing behind the last pair; it loads no render it does not need. The
  scheduler gives each worker its own pairs first (most tests first) and only then lets it take
  the last pairs of the worker with the most left, so a wrong estimate costs balance at the
  end, never a verdict (a verdict never depends on which worker ran the test).
* **One render per input.** Workers share renders and probe decisions through the on-disk
  render store and its per-key locks. With ``--refarch-no-cache`` there is no persistent store,
  so the controller hands its workers a store of its own for this run only (a private temporary
  directory, removed when the run ends): still one render per input, and nothing kept afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from harness_refarch.engine import shard as engine_shard
from harness_refarch.model.errors import RefarchError
from harness_refarch.plugin.shard import own_pairs
from harness_refarch.plugin.state import RUN_STORE, SHARE, state_of


class PairScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """Load-scope scheduling whose scope is the (profile, architecture) pair of a test id, and
    whose workers take their own share of the pairs first (``shares``: worker id -> pair ids)."""

    def __init__(self, config: pytest.Config, log: Any = None, pair_ids: list[str] | None = None,
                 shares: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(config, log)
        self._pair_ids = sorted(pair_ids or [], key=len, reverse=True)  # longest first: no prefix clash
        self._owner = {pair_id: worker for worker, ids in (shares or {}).items() for pair_id in ids}

    def _split_scope(self, nodeid: str) -> str:
        param = nodeid.partition("[")[2].rstrip("]")
        for pair_id in self._pair_ids:
            if param == pair_id or param.startswith(pair_id + "-"):
                return pair_id
        return str(super()._split_scope(nodeid))

    def _assign_work_unit(self, node: Any) -> None:
        """xdist's assignment, of the scope :func:`next_scope` picks for ``node``."""
        scope = next_scope(self.workqueue, self._owner, _worker_id(node))
        self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)


def next_scope(queue: Mapping[str, Mapping[str, bool]], owner: Mapping[str, str], worker: str | None) -> str:
    """The scope ``worker`` runs next, of the scopes still queued (in xdist's order, most tests
    first): its own first; then one nobody owns; then the last (smallest) scope of the worker
    with the most tests still queued (ties: the lower worker id)."""
    scopes = list(queue)
    for wanted in (worker, None):
        for scope in scopes:
            if owner.get(scope) == wanted:
                return scope
    left: dict[str, int] = {}
    for scope in scopes:
        left[owner[scope]] = left.get(owner[scope], 0) + len(queue[scope])
    busiest = min(left, key=lambda w: (-left[w], w))
    return [s for s in scopes if owner[s] == busiest][-1]


def _worker_id(node: Any) -> str | None:
    return getattr(node, "workerinput", {}).get("workerid")


def shares(config: pytest.Config, count: int) -> dict[str, list[str]]:
    """Worker id (``gw0``, ``gw1``, ...) -> the pair ids it starts with: the run's pairs (this
    shard's under ``--refarch-shard``) split into ``count`` by :func:`engine_shard.plan`. Empty
    when there is no session (bad input is reported by the workers) or one worker."""
    state = state_of(config)
    if state.xdist_shares is None:
        state.xdist_shares = {}
        rs = state.session_or_none()
        if rs is not None and count > 1:
            try:
                members, _ = engine_shard.plan(rs, count, own_pairs(config) or rs.pairs)
            except RefarchError:
                members = []  # e.g. a golden file that cannot be read: the workers report it
            state.xdist_shares = {f"gw{i}": [p.id for p in pairs] for i, pairs in enumerate(members)}
    return state.xdist_shares


def head_start(config: pytest.Config, split: Mapping[str, Sequence[str]]) -> None:
    """Controller: render the first pair of each worker's share while the workers start (a
    second or two of interpreter start-up and collection before their first helm call), unless
    the store has it; a worker asking for it waits on the store's lock, then reads it. Only for
    a run that asked for the suite (another project's ``pytest -n`` renders nothing), with the
    tests not narrowed by ``-k``/``-m`` (the pair might not be selected), and once."""
    state = state_of(config)
    if state.head_started or not split or config.option.keyword or config.option.markexpr \
            or not state.asked_for():
        return
    state.head_started = True
    rs = state.session_or_none()
    if rs is None or rs.cache.store is None:
        return
    by_id = {p.id: p for p in rs.pairs}
    first = [by_id[ids[0]] for ids in split.values() if ids and ids[0] in by_id]
    try:
        requests = [rs.request(p) for p in first]
        # a stored render is left to its worker: reading it here would only parse it twice
        rs.prefetch(r for r in requests if not rs.cache.stored(r))
    except RefarchError:
        return  # bad input: the workers report it


def _by_pair(config: pytest.Config) -> bool:
    """Whether the pair scheduler runs: ``-n`` without ``--dist`` (an explicit ``--dist`` --
    load, loadfile, worksteal, ... -- is the user's choice)."""
    explicit = any(str(arg).startswith("--dist") for arg in config.invocation_params.args)
    return config.getoption("dist", None) == "load" and not explicit


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> PairScheduling | None:
    if not _by_pair(config):
        return None
    rs = state_of(config).session_or_none()
    return PairScheduling(config, log, [p.id for p in rs.pairs] if rs is not None else [],
                          state_of(config).xdist_shares or {})


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: give each worker its share of the pairs (when the pair scheduler will run),
    and the run-scoped store when the persistent one is off."""
    config = node.config
    if _by_pair(config):
        split = shares(config, int(node.workerinput.get("workercount", 1)))
        share = split.get(_worker_id(node) or "")
        if share is not None:  # -n 1, or a worker the split does not name: it starts every pair itself
            node.workerinput[SHARE] = share
        head_start(config, split)
    shared = state_of(config).run_store()
    if shared is not None:
        node.workerinput[RUN_STORE] = str(shared)
