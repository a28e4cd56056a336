"""Replicas and high availability against the architecture."""

from harness_refarch.plugin.binding import conformance_test

test_hpa_bounds = conformance_test("hpa_bounds")
test_high_availability = conformance_test("high_availability")
test_database_quorum = conformance_test("database_quorum")
