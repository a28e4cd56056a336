"""Every profile file is tested: a profile without figures in the catalogue (override-prod.yaml
of older releases) runs every check that needs no figures, and this test says once per such
profile that its sizing is not judged."""

from harness_refarch.plugin.binding import conformance_test

test_profile_figures = conformance_test("profile_figures")
