"""The catalogue adopts profile files without figures by the rules of fixtures/profiles.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness_refarch.model.catalog import load_catalog
from harness_refarch.model.errors import RefarchError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PRODUCTION = ["prod-1-incluster", "prod-3-incluster", "prod-3-external-self-managed", "prod-3-external-cloud",
              "dr-warm-standby"]


def test_prod_runs_the_production_architectures_without_figures() -> None:
    catalog = load_catalog(FIXTURES)
    assert catalog.adopt(["demo", "prod", "perf-ci-cd-ff", "large"]) == ["prod"]
    prod = catalog.profiles["prod"]
    assert (prod.figures, prod.like, prod.users, prod.minimum_cpu) == (False, "large", None, None)
    assert [p.architecture.name for p in catalog.pairs(["prod"])] == PRODUCTION
    assert catalog.profiles["large"].figures and "perf-ci-cd-ff" not in catalog.profiles
    demo_like = load_catalog(FIXTURES)
    assert demo_like.adopt(["demo-airgap"]) == ["demo-airgap"]
    assert [p.id for p in demo_like.pairs(["demo-airgap"])] == ["demo-airgap-demo"]


def test_a_rule_naming_an_unknown_profile_is_one_paragraph(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    path = fixtures / "profiles.yaml"
    path.write_text(path.read_text().replace("like: large}", "like: huge}"))
    with pytest.raises(RefarchError, match=r"rule 'prod\*' of 'without_figures' .* unknown profile 'huge'"):
        load_catalog(fixtures)
