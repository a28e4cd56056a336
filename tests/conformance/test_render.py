"""The render itself: it produced workloads, and every object has the shape Kubernetes expects."""

from harness_refarch.checks import shape


def test_objects_well_formed(refarch_pair, assert_conformant):
    """No field the checks read has the wrong type (e.g. replicas: "three", env: ["FOO=bar"])."""
    assert_conformant(shape.problems)
