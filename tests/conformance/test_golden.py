"""Golden expectations: the golden file belongs to the chart under test and records every
workload that is rendered, and per rendered workload replicas, HPA bounds, requests, limits and
storage equal the recorded golden file."""

from harness_refarch.checks import golden
from harness_refarch.session import GoldenFileProblem


def test_golden_workloads(refarch, refarch_pair, assert_conformant):
    """The golden file exists, is readable, was recorded on this chart (name and version; said
    here once when not), and every workload it records is rendered."""
    assert_conformant(refarch.golden_findings)


def test_matches_golden(request, refarch, refarch_pair, refarch_workload, assert_conformant):
    """This workload has a golden entry and matches it; a golden file that cannot be compared
    at all fails this test with one line pointing at test_golden_workloads."""
    def check(pair, manifest):
        try:
            return refarch.golden_workload_findings(pair, manifest, refarch_workload)
        except GoldenFileProblem:  # fails the test with its one line; counted apart in the summary
            request.node.user_properties.append((golden.ROOT_CAUSE, pair.id))
            raise

    assert_conformant(check)
