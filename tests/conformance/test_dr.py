"""Disaster recovery with a warm standby."""

import pytest

from harness_refarch.checks import dr


@pytest.mark.refarch(dr=True)
@pytest.mark.refarch_needs("standby", "repeat")
def test_warm_standby(refarch, refarch_pair, assert_conformant):
    assert_conformant(lambda pair, primary, standby: dr.warm_standby(pair, primary, standby,
                                                                   refarch.volatility(pair)), standby=True)
