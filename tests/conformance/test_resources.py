"""Requests, limits, JVM heap headroom and capacity per profile."""

import pytest

from harness_refarch.checks import resources
from harness_refarch.findings import report


def test_container_resources(refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(resources.container_resources)


def test_jvm_heap(refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(resources.jvm_heap)


@pytest.mark.refarch(minimum=True)
def test_documented_minimum(refarch_pair, assert_conformant):
    assert_conformant(resources.demo_minimum)


def test_capacity_never_shrinks(refarch, refarch_chain):
    chain = [(pair.profile.name, refarch.manifest(pair)) for pair in refarch.chain(refarch_chain)]
    message = report(resources.never_shrinks(chain), f"architecture {refarch_chain}")
    if message:
        pytest.fail(message, pytrace=False)
