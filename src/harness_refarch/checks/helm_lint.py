"""helm lint: ``helm lint --strict`` of the pair's values stack, its messages as findings.

The run lints each distinct values stack once, on the render pool, and keeps the messages in
the render store (:meth:`harness_refarch.engine.session.RefarchSession.lint`); each ``[ERROR]``
or ``[WARNING]`` line is one finding, so a waiver matches that message only.
"""

from __future__ import annotations

from harness_refarch.checks.registry import Context, check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest

CHECK = "helm-lint"


@check("helm_lint", findings=(CHECK,), needs=("lint",), context=True,
       doc="`helm lint --strict` of the pair's values stack passes (messages quoted, bounded).")
def helm_lint(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    return ctx.lint(pair)
