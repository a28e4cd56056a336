"""Checks a team registers itself (entry point group harness_refarch.checks, --refarch-checks or
REFARCH_CHECKS): one test_<id> each, from the registry; none when there are none."""

from harness_refarch.plugin.binding import custom_tests

globals().update(custom_tests())
