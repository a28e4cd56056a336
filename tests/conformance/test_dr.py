"""Disaster recovery with a warm standby."""

from harness_refarch.plugin.binding import conformance_test

test_warm_standby = conformance_test("warm_standby")
