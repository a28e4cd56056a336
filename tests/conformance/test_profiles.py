"""Every profile file is tested: a profile without figures in the catalogue (override-prod.yaml
of older releases) runs every check that needs no figures, and this test says once per such
profile that its sizing is not judged."""

import pytest

from harness_refarch.checks import figures


@pytest.mark.refarch(figures=False, first_of_profile=True)
def test_profile_figures(refarch_pair, assert_conformant):
    assert_conformant(figures.figures)
