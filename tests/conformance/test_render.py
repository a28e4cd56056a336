"""The render itself: it produced workloads, and every object has the shape Kubernetes expects."""

import pytest

from harness_refarch.checks import determinism, shape


def test_objects_well_formed(refarch_pair, assert_conformant):
    """No field the checks read has the wrong type (e.g. replicas: "three", env: ["FOO=bar"])."""
    assert_conformant(shape.problems)


@pytest.mark.refarch_once_per_architecture
@pytest.mark.refarch_needs("repeat")
def test_deterministic(refarch, refarch_pair, assert_conformant):
    """Two renders of identical inputs differ only where the chart says so: names of the objects
    and keys that change (never values), and the generated Secrets a DR standby would not share."""
    assert_conformant(lambda pair, manifest: determinism.determinism(refarch.volatility(pair)))
