"""Requests, limits, JVM heap headroom and capacity per profile."""

import pytest

from harness_refarch.checks import resources


def test_container_resources(refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(resources.container_resources)


@pytest.mark.refarch(workloads="jvm")
def test_jvm_heap(refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(resources.jvm_heap)


@pytest.mark.refarch(minimum=True)
def test_documented_minimum(refarch_pair, assert_conformant):
    assert_conformant(resources.demo_minimum)


def _not_below(pair, manifest, previous):
    return resources.never_shrinks([previous, (pair.profile.name, manifest)])


@pytest.mark.refarch(previous=True)
def test_capacity_not_below_previous_profile(refarch_pair, assert_conformant):
    """Replicas x requests and storage per workload and in total: demo <= small <= medium <= large."""
    assert_conformant(_not_below, previous=True)
