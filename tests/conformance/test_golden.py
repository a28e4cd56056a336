"""Per workload: replicas, HPA bounds, requests, limits and storage equal the recorded golden file."""


def test_matches_golden(refarch, refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(refarch.golden_findings)
