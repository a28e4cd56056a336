"""A team's own policy check, as a team would write it (one file): every Deployment names the team
that owns it in a ``team`` label.

Used by tests/unit/test_registry.py through ``--refarch-checks toy_check`` (with this directory
on PYTHONPATH) and through an entry point of group ``harness_refarch.checks``.
"""

from __future__ import annotations

from harness_refarch.checks.registry import check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest

LABEL = "team"


@check("deployment_team_label", findings=("team-label",), diff=True, severity="warning",
       help="Every Deployment carries a team label naming who is paged for it.")
def deployment_team_label(pair: Pair, manifest: Manifest) -> list[Finding]:
    """Every Deployment has the label ``team`` (who owns it, who gets paged)."""
    return [Finding("team-label", w.key, f"metadata.labels.{LABEL}", "set to the owning team", "missing")
            for w in manifest.workloads.values() if w.kind == "Deployment" and not w.obj.labels.get(LABEL)]
