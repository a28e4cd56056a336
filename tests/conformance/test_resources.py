"""Requests, limits, JVM heap headroom and capacity per profile."""

import pytest

from harness_refarch.checks import resources
from harness_refarch.findings import report


def test_container_resources(refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(resources.container_resources)


@pytest.mark.refarch(workloads="jvm")
def test_jvm_heap(refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(resources.jvm_heap)


@pytest.mark.refarch(minimum=True)
def test_documented_minimum(refarch_pair, assert_conformant):
    assert_conformant(resources.demo_minimum)


@pytest.mark.refarch(previous=True)
def test_capacity_not_below_previous_profile(refarch_pair, rendered, previous_rendered):
    """Replicas x requests and storage per workload and in total: demo <= small <= medium <= large."""
    chain = [previous_rendered, (refarch_pair.profile.name, rendered)]
    message = report(resources.never_shrinks(chain), f"{refarch_pair.id} vs the {previous_rendered[0]} profile")
    if message:
        pytest.fail(message, pytrace=False)
