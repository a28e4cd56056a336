"""Golden expectations: the golden file belongs to the chart under test and records every
workload that is rendered, and per rendered workload replicas, HPA bounds, requests, limits and
storage equal the recorded golden file."""

from harness_refarch.checks import golden


def test_golden_workloads(refarch, refarch_pair, assert_conformant):
    """The golden file exists, is readable, was recorded on this chart (name and version; said
    here once when not), and every workload it records is rendered."""
    assert_conformant(refarch.golden_findings)


def test_matches_golden(request, refarch, refarch_pair, refarch_workload, assert_conformant):
    """This workload has a golden entry and matches it; a golden file that cannot be compared
    at all fails this test with one finding pointing at test_golden_workloads."""
    def check(pair, manifest):
        if refarch.golden_problem(pair):  # counted apart in the summary, like render failures
            request.node.user_properties.append((golden.ROOT_CAUSE, pair.id))
        return refarch.golden_workload_findings(pair, manifest, refarch_workload)

    assert_conformant(check)
