"""Running a registered check on one pair: the inputs its registration asks for, in a test and in
``harness-refarch diff``.

A check is called ``fn(pair, manifest, *inputs)`` (``fn(session, pair, manifest, *inputs)`` with
``context=True``); the inputs follow from its registration (see
:mod:`harness_refarch.checks.registry`). The pytest plugin fetches the standby's and the previous
profile's renders itself (a failed render fails the test with the render's one line); what is
fetched here (the determinism renders) raises inside the caller's guard.
"""

from __future__ import annotations

from typing import Any

from harness_refarch.checks.registry import Check
from harness_refarch.engine.session import RefarchSession, applies
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest


def _call(pair: Pair, manifest: Manifest, check: Check, rs: RefarchSession, *inputs: Any) -> list[Finding]:
    """A check that needs the run, called with it (one stable function, so memoising keys stay
    stable: per-workload tests of a pair share one call)."""
    return check.fn(rs, pair, manifest, *inputs)


def findings(rs: RefarchSession, check: Check, pair: Pair, manifest: Manifest, *fetched: Any,
             workload: str | None = None) -> list[Finding]:
    """The findings of ``check`` on ``pair`` in a conformance test: memoised per check and pair,
    failing values traced to their layer (:meth:`RefarchSession.traced`). ``fetched``: the
    standby's render and/or the previous profile's, in the registration's order."""
    inputs: list[Any] = list(fetched)
    if "repeat" in check.needs:
        inputs.append(rs.volatility(pair))
    if check.workload_arg:
        inputs.append(workload)
    if check.context:
        found = rs.traced(_call, pair, manifest, check, rs, *inputs)
    else:
        found = rs.traced(check.fn, pair, manifest, *inputs)
    undeclared = sorted({f.check for f in found} - set(check.findings))
    if undeclared:
        raise RefarchError(f"{pair.id}: check {check.id} ({check.module}) reported finding id(s) "
                           f"{', '.join(undeclared)} that its registration does not declare (findings="
                           f"{check.findings!r}); declare them, so that severities and waivers know them.")
    return found


def skip_reason(rs: RefarchSession, check: Check, pair: Pair, manifest: Manifest) -> str:
    """Why the test skips when it has nothing else to say (empty: it does not)."""
    return check.skip(rs, rs.effective_pair(pair), manifest) if check.skip is not None else ""


def cause(rs: RefarchSession, check: Check, pair: Pair) -> str:
    """The user property of a cause shared by the pair's tests of this check (empty: none)."""
    return check.cause(rs, rs.effective_pair(pair)) if check.cause is not None else ""


def for_diff(rs: RefarchSession, check: Check, pair: Pair, manifest: Manifest) -> list[Finding] | None:
    """The findings of ``check`` on one side of ``harness-refarch diff``, untraced (both sides are
    compared as rendered); None when it does not apply to ``pair``. A render the check needs that
    fails raises RefarchError. What two identical renders change is not known there (one render
    per side): a check needing it gets None."""
    if not applies(rs, pair, dict(check.where)):
        return None
    pair = rs.effective_pair(pair)
    inputs: list[Any] = []
    if "standby" in check.needs:
        inputs.append(rs.manifest(pair, standby=True))
    if check.where.get("previous"):
        before = rs.previous(pair)
        if before is None:
            return []
        inputs.append((before.profile.name, rs.manifest(before)))
    if "repeat" in check.needs:
        inputs.append(None)
    if check.context:
        return check.fn(rs, pair, manifest, *inputs)
    return check.fn(pair, manifest, *inputs)
