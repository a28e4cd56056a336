"""Replicas and high availability against the architecture."""

import pytest

from harness_refarch.checks import replicas


def test_hpa_bounds(refarch_pair, assert_conformant):
    assert_conformant(replicas.hpa_bounds)


@pytest.mark.refarch(ha=True, workloads="stateless")
def test_high_availability(refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(replicas.high_availability)


@pytest.mark.refarch(ha=True, in_cluster=True)
def test_database_quorum(refarch_pair, assert_conformant):
    assert_conformant(replicas.database_quorum)
