"""The embedded model chart itself: `helm lint --strict` passes with every profile file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness_refarch.helm import Helm, find_helm

CHART = Path(__file__).resolve().parents[2] / "charts" / "harness-prod"
PROFILE_FILES = sorted(CHART.glob("override-*.yaml"))


def test_the_chart_ships_four_profile_files() -> None:
    assert len(PROFILE_FILES) == 4


@pytest.mark.parametrize("profile_file", PROFILE_FILES, ids=[f"p{i}" for i in range(len(PROFILE_FILES))])
def test_lint_strict_with_each_profile(profile_file: Path) -> None:
    helm = Helm(find_helm())
    out = helm.run(["lint", "--strict", str(CHART), "--values", str(profile_file),
                    "--set", "global.ci.enabled=true", "--set", "global.cd.enabled=true"])
    assert "0 chart(s) failed" in out
