"""Database wiring: hosts, members, replica-set name, credentials and TLS."""

from harness_refarch.checks import wiring


def test_database_wiring(refarch_pair, assert_conformant):
    assert_conformant(wiring.wiring)
