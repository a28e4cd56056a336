"""Disaster recovery with a warm standby."""

import pytest

from harness_refarch.checks import dr
from harness_refarch.findings import report


@pytest.mark.refarch(dr=True)
def test_warm_standby(refarch, refarch_pair, rendered, standby):
    message = report(dr.warm_standby(refarch_pair, rendered, standby), f"{refarch_pair.id} primary/standby")
    if message:
        pytest.fail(message, pytrace=False)
