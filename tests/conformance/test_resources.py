"""Requests, limits, JVM heap headroom and capacity per profile."""

from harness_refarch.plugin.binding import conformance_test

test_container_resources = conformance_test("container_resources")
test_jvm_heap = conformance_test("jvm_heap")
test_documented_minimum = conformance_test("documented_minimum")
test_capacity_not_below_previous_profile = conformance_test("capacity_not_below_previous_profile")
