"""pytest-xdist support: whole pairs per worker, and each distinct render once across workers.

Registered by the plugin only when pytest-xdist is loaded. Two things make ``-n`` worth it:

* **Pairs, not tests, are the unit of work.** xdist's default ``--dist load`` deals tests out
  one by one, so every worker needs every render and computes every check of every pair again.
  When ``-n`` is given without ``--dist``, the tests of one pair go to one worker instead
  (xdist's load-scope scheduling, scoped by pair id); an explicit ``--dist`` is honoured.
* **One render per input.** Workers share renders through the on-disk render store and its
  per-key locks. With ``--refarch-no-cache`` there is no persistent store, so the controller
  hands its workers a store of its own for this run only (a private temporary directory,
  removed when the run ends): still one render per input, and nothing kept afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from harness_refarch.plugin.state import RUN_STORE, state_of


class PairScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """Load-scope scheduling whose scope is the (profile, architecture) pair of a test id."""

    def __init__(self, config: pytest.Config, log: Any = None, pair_ids: list[str] | None = None) -> None:
        super().__init__(config, log)
        self._pair_ids = sorted(pair_ids or [], key=len, reverse=True)  # longest first: no prefix clash

    def _split_scope(self, nodeid: str) -> str:
        param = nodeid.partition("[")[2].rstrip("]")
        for pair_id in self._pair_ids:
            if param == pair_id or param.startswith(pair_id + "-"):
                return pair_id
        return str(super()._split_scope(nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> PairScheduling | None:
    explicit = any(str(arg).startswith("--dist") for arg in config.invocation_params.args)
    if config.getoption("dist", None) != "load" or explicit:
        return None  # an explicit --dist (load, loadfile, worksteal, ...) is the user's choice
    rs = state_of(config).session_or_none()
    return PairScheduling(config, log, [p.id for p in rs.pairs] if rs is not None else [])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: give each worker the run-scoped store when the persistent one is off."""
    shared = state_of(node.config).run_store()
    if shared is not None:
        node.workerinput[RUN_STORE] = str(shared)
