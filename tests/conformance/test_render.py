"""The render itself: it produced workloads, and every object has the shape Kubernetes expects."""

from harness_refarch.plugin.binding import conformance_test

test_objects_well_formed = conformance_test("objects_well_formed")
test_deterministic = conformance_test("deterministic")
