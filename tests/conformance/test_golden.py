"""Golden expectations: the golden file belongs to the chart under test and records every
workload that is rendered, and per rendered workload replicas, HPA bounds, requests, limits and
storage equal the recorded golden file."""

from harness_refarch.plugin.binding import conformance_test

test_golden_workloads = conformance_test("golden_workloads")
test_matches_golden = conformance_test("matches_golden")
