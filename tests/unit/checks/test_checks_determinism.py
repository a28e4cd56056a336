"""The determinism check and the DR generated-Secret check: readable, bounded, no values."""

from __future__ import annotations

from harness_refarch.checks.determinism import MAX_KEYS, determinism, dr_generated_secrets
from harness_refarch.model.findings import report
from harness_refarch.model.identity import Volatility


def _vol(**kw: object) -> Volatility:
    return Volatility(**kw)  # type: ignore[arg-type]


def test_deterministic_render_has_no_findings() -> None:
    assert determinism(Volatility()) == []
    assert dr_generated_secrets(Volatility()) == []


def test_renamed_job_is_one_readable_finding() -> None:
    findings = determinism(_vol(renamed=["Job/harness-upgrade-*"]), known=True)
    assert len(findings) == 1
    text = report(findings, "small-prod-3-incluster")
    assert "Job/harness-upgrade-*" in text
    assert "1 key(s) differ: metadata.name" in text
    assert "identical inputs" in text


def test_one_finding_per_object_with_name_first_and_bounded_keys() -> None:
    fields = {("Deployment", "api", "spec.template.metadata.annotations.rollme")}
    fields |= {("Secret", "gen", f"data.key{i:02d}") for i in range(MAX_KEYS + 3)}
    findings = determinism(_vol(renamed=["Job/migrate-*"], volatile_fields=fields | {
        ("Job", "migrate-*", "spec.template.metadata.labels.run")}), known=None)
    by_object = {f.workload: f for f in findings}
    assert sorted(by_object) == ["Deployment/api", "Job/migrate-*", "Secret/gen"]
    assert by_object["Job/migrate-*"].actual.startswith("2 key(s) differ: metadata.name, spec.")
    secret = by_object["Secret/gen"]
    assert secret.actual.endswith("(+3 more)")
    assert secret.actual.count("data.key") == MAX_KEYS
    assert "existing Secret" in secret.hint


def test_objects_in_only_one_render_are_reported() -> None:
    findings = determinism(_vol(unpaired=["ConfigMap/x"]))
    assert [(f.workload, f.actual) for f in findings] == [("ConfigMap/x", "present in only one")]


def test_dr_names_each_generated_secret_and_its_keys() -> None:
    vol = _vol(secrets_differing=["acme-generated", "other"],
               volatile_fields={("Secret", "acme-generated", "data.admin-token"),
                                ("Secret", "acme-generated", "data.db-password"),
                                ("Deployment", "api", "spec.x")})
    findings = dr_generated_secrets(vol)
    assert [f.workload for f in findings] == ["Secret/acme-generated", "Secret/other"]
    first = str(findings[0])
    assert "data.admin-token, data.db-password" in first
    assert "primary and standby" in first
    assert "existing Secret" in first
    assert "keys not traced" in findings[1].actual
    assert all(f.check == "dr" for f in findings)


def test_the_check_fails_only_outside_the_known_volatile_places() -> None:
    """Random names, annotations and generated Secret values are known-volatile (reported in the
    summary); a random label or replica count makes every verdict unstable and fails."""
    vol = _vol(renamed=["Job/migrate-*"], volatile_fields={
        ("Deployment", "api", "spec.template.metadata.annotations.rollme"),
        ("Secret", "gen", "data.password"),
        ("Deployment", "api", "spec.replicas"),
        ("ConfigMap", "cfg", "data.RUN_ID")})
    failing = determinism(vol)
    assert [(f.workload, f.actual) for f in failing] == [
        ("ConfigMap/cfg", "1 key(s) differ: data.RUN_ID"), ("Deployment/api", "1 key(s) differ: spec.replicas")]
    known = determinism(vol, known=True)
    assert sorted(f.workload for f in known) == ["Deployment/api", "Job/migrate-*", "Secret/gen"]
