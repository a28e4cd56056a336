"""Database wiring: hosts, members, replica-set name, credentials and TLS."""

from harness_refarch.plugin.binding import conformance_test

test_database_wiring = conformance_test("database_wiring")
