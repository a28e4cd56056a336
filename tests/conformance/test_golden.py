"""Golden expectations: the recorded workloads are all rendered, and per rendered workload
replicas, HPA bounds, requests, limits and storage equal the recorded golden file."""

from harness_refarch.checks import golden


def _recorded_not_rendered(refarch, pair, manifest):
    rendered = {golden.identity(k) for k in manifest.workloads}
    return [f for f in refarch.golden_findings(pair, manifest)
            if f.workload not in rendered]


def test_golden_workloads(refarch, refarch_pair, assert_conformant):
    """Every workload of the golden file is rendered (and the golden file is readable)."""
    assert_conformant(lambda pair, manifest: _recorded_not_rendered(refarch, pair, manifest))


def test_matches_golden(refarch, refarch_pair, refarch_workload, assert_conformant):
    assert_conformant(refarch.golden_findings)
