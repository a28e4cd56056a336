"""Profiles without figures: a profile file the catalogue has no figures for is still tested.

``override-prod.yaml`` of older releases matches no profile of the reference architectures. A
rule of ``without_figures`` in ``fixtures/profiles.yaml`` adopts it: it runs the architectures
of a catalogue profile with every check that needs no figures. The sizing checks that need the
catalogue's figures (capacity against the previous profile, the documented minimum) cannot
judge it; :func:`figures` says so once per such profile, as a finding (a gate must not go
green on sizing nobody judged; a team that accepts it waives the finding with its reason).
"""

from __future__ import annotations

from harness_refarch.checks.registry import check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest

CHECK = "profile-figures"


@check("profile_figures", findings=(CHECK,), where={"figures": False, "first_of_profile": True})
def figures(pair: Pair, manifest: Manifest) -> list[Finding]:
    """One finding for a profile without figures, none for a catalogue profile."""
    profile = pair.profile
    if profile.figures:
        return []
    return [Finding(
        CHECK, f"profile {profile.name}", "figures",
        "users, parallel executions and sizing figures for it in the profile table (fixtures/profiles.yaml)",
        f"none: override-{profile.name}.yaml runs the architectures of {profile.like} with every check that needs "
        "no figures, but its sizing (capacity against the previous profile, documented minimum) is not judged",
        f"add profile {profile.name} with its documented figures to profiles.yaml, or waive this finding with "
        "the reason its sizing need not be judged")]
