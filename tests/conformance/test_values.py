"""The values layers of each render: every key does something, and nothing contradicts the
architecture under test (layers: architecture overlay, your files, the profile file, --set)."""

from harness_refarch.plugin.binding import conformance_test

test_architecture_expressible = conformance_test("architecture_expressible")
test_value_keys_read = conformance_test("value_keys_read")
test_values_match_architecture = conformance_test("values_match_architecture")
