"""Stable identities under helm-generated names and values (issue 6 item 2), and the second,
differently shaped test chart tests/charts/acme-platform (issue 6 item 10)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness_refarch.checks.determinism import determinism, dr_generated_secrets
from harness_refarch.helm import install as install_helm
from harness_refarch.helm.binary import Helm
from harness_refarch.model.catalog import load_catalog
from harness_refarch.model.identity import (
    Volatility,
    field_path,
    identities,
    learn_volatile,
    normalise_name,
    object_identity,
    stable_text,
    volatile_from_text,
)
from harness_refarch.model.manifest import SAFE_LOADER, parse_manifest

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "tests" / "charts" / "acme-platform"
FIXTURES = ROOT / "fixtures"
HELMS = {major: install_helm.installed_path(major) for major in ("3", "4")}


# -- normalise_name ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("harness-upgrade-x7k2p", "harness-upgrade-*"),
    ("migrate-db-5f8d9", "migrate-db-*"),
    ("ng-manager-7d9f8b6c5d", "ng-manager-*"),     # a ReplicaSet-style hash (10 chars)
    ("job-a1b2", "job-*"),                         # 4 chars is the shortest random part
    ("hook-4xk2.conf", "hook-*.conf"),             # dots separate segments too
    ("ng-manager", "ng-manager"),
    ("redis-sentinel-harness-server", "redis-sentinel-harness-server"),
    ("mongodb-replicaset-chart-0", "mongodb-replicaset-chart-0"),
    ("mongodb-replicaset-chart-arbiter", "mongodb-replicaset-chart-arbiter"),
    ("harness-v2", "harness-v2"),
    ("api-v1beta1", "api-v1beta1"),               # Kubernetes-style versions are words
    ("ipv4-pool", "ipv4-pool"),
    ("http2-gateway", "http2-gateway"),
    ("k8s-agent", "k8s-agent"),
    ("s3-backup", "s3-backup"),
    ("sha256-verifier", "sha256-verifier"),
    ("timescaledb-single-chart", "timescaledb-single-chart"),
    ("backup-20240115", "backup-20240115"),        # digits only: a date or index, not random
    ("migrate-db-abcde", "migrate-db-abcde"),      # letters only: learned from two renders instead
    ("x7k2p1q9z3m8", "x7k2p1q9z3m8"),             # longer than 10: not a helm suffix
])
def test_normalise_name(name: str, expected: str) -> None:
    assert normalise_name(name) == expected


def test_object_identity() -> None:
    assert object_identity("Job", "harness-upgrade-x7k2p") == "Job/harness-upgrade-*"
    assert object_identity("Deployment", "ng-manager") == "Deployment/ng-manager"


# -- identity by role: Jobs are renamed on every render (issue 13 item 2) -------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("ti-migration-wjwtqj", "ti-migration-*"),    # six letters: no shape rule can tell it from a word
    ("harness-patroni-ou", "harness-patroni-*"),  # two characters
    ("harness-patroni-r8", "harness-patroni-*"),
    ("harness-upgrade-x7k2p", "harness-upgrade-*"),
    ("migrate", "migrate"),                       # one segment: nothing else to identify it by
    ("db-init.sql", "db-init.sql"),               # the last segment is not a token
])
def test_a_job_is_identified_without_its_last_name_segment(name: str, expected: str) -> None:
    assert object_identity("Job", name) == f"Job/{expected}"
    assert Volatility().normalise(f"Job/{name}") == f"Job/{expected}"


def test_other_kinds_keep_their_last_name_segment() -> None:
    assert object_identity("Deployment", "harness-patroni-ou") == "Deployment/harness-patroni-ou"
    assert object_identity("CronJob", "nightly-backup") == "CronJob/nightly-backup"
    assert Volatility().normalise("harness-patroni-ou") == "harness-patroni-ou"  # no kind, no role


def test_stable_text_names_every_object_by_identity() -> None:
    assert stable_text("Job/ti-migration-wjwtqj container migrate") == "Job/ti-migration-* container migrate"
    assert stable_text("Service/db -> Job/harness-patroni-ou") == "Service/db -> Job/harness-patroni-*"
    assert stable_text("Job/ti-migration-*") == "Job/ti-migration-*"  # idempotent
    assert stable_text("env TI_SERVICE_TOKEN") == "env TI_SERVICE_TOKEN"
    assert stable_text("ConfigMap/ng-manager:MONGO_URI") == "ConfigMap/ng-manager:MONGO_URI"


def test_findings_are_keyed_by_identity() -> None:
    from harness_refarch.engine.session import stable_findings
    from harness_refarch.model.findings import Finding

    raw = [Finding("resources", "Job/ti-migration-wjwtqj container migrate", "resources.requests.cpu", "set", "none"),
           Finding("resources", "Job/ti-migration-qpzkxa container migrate", "resources.requests.cpu", "set", "none"),
           Finding("resources", "Deployment/ng-manager", "replicas", "2", "1")]
    found = stable_findings(raw)
    assert [f.workload for f in found] == ["Job/ti-migration-* container migrate"] * 2 + ["Deployment/ng-manager"]
    assert found[2] is raw[2]


def test_two_renders_pair_jobs_by_role_even_when_a_short_suffix_repeats() -> None:
    """A two-character suffix repeats in two renders once in about a thousand: the identity
    does not depend on seeing it change."""
    same = [parse_manifest(_stream(_doc("Job", "harness-patroni-ou")), "ns") for _ in range(2)]
    other = parse_manifest(_stream(_doc("Job", "harness-patroni-r8")), "ns")
    assert learn_volatile(*same).empty
    vol = learn_volatile(same[0], other)
    assert vol.renamed == ["Job/harness-patroni-*"] and vol.unpaired == [] and vol.unstable == []
    assert determinism(vol) == []


def test_a_renamed_object_no_identity_follows_is_a_determinism_finding() -> None:
    a = parse_manifest(_stream(_doc("Deployment", "worker-abcdef"), _doc("Job", "migrate-qwerty")), "ns")
    b = parse_manifest(_stream(_doc("Deployment", "worker-zyxwvu"), _doc("Job", "migrate-plmokn")), "ns")
    vol = learn_volatile(a, b)
    assert vol.unstable == ["Deployment/worker-*"]
    [finding] = determinism(vol)
    assert (finding.workload, finding.field, finding.actual) == (
        "Deployment/worker-*", "metadata.name", "generated at render time")
    assert "give it a fixed name" in finding.hint


def test_field_paths_quote_keys_with_dots() -> None:
    assert field_path(("spec", "template", "metadata", "annotations", "rollme")) == \
        "spec.template.metadata.annotations.rollme"
    assert field_path(("metadata", "annotations", "helm.sh/hook")) == 'metadata.annotations["helm.sh/hook"]'
    assert field_path(("spec", "containers", 0, "env", 2, "value")) == "spec.containers[0].env[2].value"


def test_default_volatility_only_normalises_by_shape() -> None:
    vol = Volatility()
    assert vol.empty
    assert vol.normalise("Job/migrate-x7k2p") == "Job/migrate-*"
    assert vol.normalise("migrate-x7k2p") == "migrate-*"
    body: dict[str, Any] = {"kind": "Job", "metadata": {"name": "migrate-x7k2p"}, "spec": {"a": 1}}
    assert vol.strip(body) == {"kind": "Job", "metadata": {"name": "migrate-*"}, "spec": {"a": 1}}
    assert body["metadata"]["name"] == "migrate-x7k2p"  # the input is not modified


# -- learn_volatile on hand-written renders -----------------------------------------------------
def _doc(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, **extra}


def _stream(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def _pod(annotations: dict[str, str], image: str = "app:1") -> dict[str, Any]:
    return {"template": {"metadata": {"annotations": annotations},
                         "spec": {"containers": [{"name": "app", "image": image}]}}}


def test_learns_all_letter_suffixes_and_applies_them_to_a_third_render() -> None:
    # A Pod (a helm test hook): identified by shape only, so what is learned is all there is.
    a = parse_manifest(_stream(_doc("Pod", "migrate-db-abcde"), _doc("ConfigMap", "cfg")), "ns")
    b = parse_manifest(_stream(_doc("Pod", "migrate-db-qwert"), _doc("ConfigMap", "cfg")), "ns")
    vol = learn_volatile(a, b)
    assert vol.renamed == ["Pod/migrate-db-*"]
    assert vol.unpaired == [] and vol.volatile_fields == set()
    assert vol.normalise("Pod/migrate-db-zzzzz") == "Pod/migrate-db-*"
    assert vol.normalise("Pod/migrate-db-x7k2p") == "Pod/migrate-db-*"
    assert vol.normalise("Pod/migrate-db-users-and-groups") == "Pod/migrate-db-users-and-groups"
    assert vol.normalise("ConfigMap/migrate-db-zzzzz") == "ConfigMap/migrate-db-zzzzz"  # other kind
    assert vol.unstable == ["Pod/migrate-db-*"]  # no identity shown to a user can follow it


def test_letters_in_one_render_and_mixed_in_the_other_still_pair() -> None:
    a = parse_manifest(_stream(_doc("Job", "migrate-db-abcde"), _doc("Job", "upgrade-x7k2p")), "ns")
    b = parse_manifest(_stream(_doc("Job", "migrate-db-q1w2e"), _doc("Job", "upgrade-zxcvb")), "ns")
    vol = learn_volatile(a, b)
    assert vol.renamed == ["Job/migrate-db-*", "Job/upgrade-*"]
    assert vol.unpaired == []


def test_leftovers_pair_with_the_name_of_the_same_shape() -> None:
    a = parse_manifest(_stream(_doc("Job", "cleanup"), _doc("Job", "migrate-db-abcde")), "ns")
    b = parse_manifest(_stream(_doc("Job", "migrate-db-qwert")), "ns")
    vol = learn_volatile(a, b)
    assert vol.renamed == ["Job/migrate-db-*"]
    assert vol.unpaired == ["Job/cleanup"]


def test_reports_changed_fields_only_and_strip_removes_them() -> None:
    a = parse_manifest(_stream(_doc("Deployment", "api", spec=_pod({"rollme": "Ab3xZ", "team": "x"})),
                               _doc("Deployment", "web", spec=_pod({}))), "ns")
    b = parse_manifest(_stream(_doc("Deployment", "api", spec=_pod({"rollme": "Qr7Lk", "team": "x"})),
                               _doc("Deployment", "web", spec=_pod({}))), "ns")
    vol = learn_volatile(a, b)
    assert vol.volatile_fields == {("Deployment", "api", "spec.template.metadata.annotations.rollme")}
    assert vol.renamed == [] and vol.secrets_differing == []
    stripped = [vol.strip(o.body) for o in a.objects], [vol.strip(o.body) for o in b.objects]
    assert stripped[0] == stripped[1]
    assert stripped[0][0]["spec"]["template"]["metadata"]["annotations"] == {"team": "x"}


def test_a_broken_pairing_fails_loudly_as_unpaired() -> None:
    """Objects present in only one render are reported, not silently matched."""
    a = parse_manifest(_stream(_doc("Service", "one"), _doc("Job", "hook-x7k2p")), "ns")
    b = parse_manifest(_stream(_doc("Service", "one"), _doc("Service", "two")), "ns")
    vol = learn_volatile(a, b)
    assert vol.unpaired == ["Job/hook-*", "Service/two"]
    assert not vol.empty


def test_list_of_different_length_is_one_volatile_path() -> None:
    a = parse_manifest(_stream(_doc("ConfigMap", "c", data={"x": "1"}, extra=[1, 2])), "ns")
    b = parse_manifest(_stream(_doc("ConfigMap", "c", data={"x": "1"}, extra=[1, 2, 3])), "ns")
    assert learn_volatile(a, b).volatile_fields == {("ConfigMap", "c", "extra")}


def test_manifest_comparison_sees_secret_changes_but_never_values() -> None:
    """Manifest Secret data is redacted; keyed digests tell changed values apart."""
    a = parse_manifest(_stream(_doc("Secret", "gen", data={"token": "c2VjcmV0QQ==", "k": "eA=="})), "ns")
    b = parse_manifest(_stream(_doc("Secret", "gen", data={"token": "c2VjcmV0Qg==", "k": "eA==", "new": "eQ=="})), "ns")
    vol = learn_volatile(a, b)
    assert vol.volatile_fields == {("Secret", "gen", "data.new"), ("Secret", "gen", "data.token")}
    assert vol.secrets_differing == ["gen"]
    assert "c2VjcmV0" not in repr(vol) + repr(a.secret_digests)


def test_volatile_from_text_finds_generated_secret_values_without_keeping_them() -> None:
    token_a, token_b = "Zm9vYmFyLXNlY3JldC1BQUFB", "Zm9vYmFyLXNlY3JldC1CQkJC"
    common = {"username": "YWNtZQ==", "tls.crt": "Y2VydA=="}
    text_a = _stream(_doc("Secret", "gen", data={**common, "admin-token": token_a}),
                     _doc("Secret", "fixed", stringData={"password": "hunter2-A"}))
    text_b = _stream(_doc("Secret", "gen", data={**common, "admin-token": token_b}),
                     _doc("Secret", "fixed", stringData={"password": "hunter2-A"}))
    vol = volatile_from_text(text_a, text_b, "ns")
    assert vol.secrets_differing == ["gen"]
    assert vol.volatile_fields == {("Secret", "gen", "data.admin-token")}
    shown = repr(vol) + "".join(str(f) for f in determinism(vol) + dr_generated_secrets(vol))
    for value in (token_a, token_b, "hunter2-A", *common.values(),
                  base64.b64decode(token_a).decode(), base64.b64decode(token_b).decode()):
        assert value not in shown


def test_volatile_from_text_on_identical_text_is_empty() -> None:
    text = _stream(_doc("Secret", "gen", data={"t": "eA=="}), _doc("Job", "hook-x7k2p"))
    vol = volatile_from_text(text, text, "ns")
    assert vol.empty and determinism(vol) == [] and dr_generated_secrets(vol) == []


def test_identities_number_duplicates_in_render_order() -> None:
    m = parse_manifest(_stream(_doc("Job", "hook-x7k2p"), _doc("Job", "hook-a1b2c"), _doc("Job", "other")), "ns")
    assert list(identities(m.objects)) == ["Job/hook-*", "Job/hook-*#2", "Job/other"]


# -- the acme-platform chart, rendered with real helm -----------------------------------------
def _helm(major: str) -> Helm:
    if not HELMS[major].is_file():
        pytest.skip(f"helm v{major} not installed (harness-refarch-install-helm --all)")
    return Helm(HELMS[major])


def _render(helm: Helm, architecture: str, profile: str, standby: bool = False) -> str:
    layers = ["overlays/ci-cd.yaml", f"overlays/{architecture}.yaml"]
    layers += ["overlays/dr-standby.yaml"] if standby else []
    args = ["template", "r", str(ACME), "--namespace", "harness", "--kube-version", "1.29.0"]
    for layer in layers:
        args += ["-f", str(FIXTURES / layer)]
    return helm.run([*args, "-f", str(ACME / f"override-{profile}.yaml")])


def _renders() -> list[tuple[str, str, bool]]:
    catalog = load_catalog(FIXTURES)
    out = []
    for pair in catalog.pairs():
        out.append((pair.architecture.name, pair.profile.name, False))
        if pair.architecture.dr:
            out.append((pair.architecture.name, pair.profile.name, True))
    return out


@pytest.mark.parametrize("major", ["3", "4"])
def test_acme_chart_renders_every_architecture_and_profile(major: str) -> None:
    helm = _helm(major)
    renders = _renders()
    assert len(renders) >= 16
    for architecture, profile, standby in renders:
        manifest = parse_manifest(_render(helm, architecture, profile, standby), "harness")
        assert manifest.get("Deployment", "api-server") is not None, (architecture, profile)
        assert not manifest.of_kind("HorizontalPodAutoscaler")
        for w in manifest.workloads.values():
            for c in w.containers:
                assert c.request("cpu") and c.request("memory") and c.limit("memory"), (w.key, c.name)


@pytest.mark.parametrize("major", ["3", "4"])
@pytest.mark.parametrize("profile", ["demo", "small", "medium", "large"])
def test_acme_chart_lints_strict(major: str, profile: str) -> None:
    architecture = "demo" if profile == "demo" else "prod-3-incluster"
    out = _helm(major).run(["lint", "--strict", str(ACME), "-f", str(FIXTURES / "overlays/ci-cd.yaml"),
                            "-f", str(FIXTURES / f"overlays/{architecture}.yaml"),
                            "-f", str(ACME / f"override-{profile}.yaml")])
    assert "0 chart(s) failed" in out


def _flatten(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        out: set[str] = set()
        for key, value in node.items():
            out |= _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix}


def test_acme_values_declare_every_global_overlay_key() -> None:
    """Every architecture switch under ``global`` is expressible in the second chart (the overlays'
    chart-specific keys, such as the model's minio.existingSecret, are the suite's to report)."""
    declared = _flatten(yaml.load((ACME / "values.yaml").read_text(), Loader=SAFE_LOADER))
    for overlay in sorted((FIXTURES / "overlays").glob("*.yaml")):
        keys = {k for k in _flatten(yaml.load(overlay.read_text(), Loader=SAFE_LOADER)) if k.startswith("global.")}
        assert keys <= declared, (overlay.name, sorted(keys - declared))


def _secret_values(text: str) -> set[str]:
    values = set()
    for doc in yaml.load_all(text, Loader=SAFE_LOADER):
        if doc and doc.get("kind") == "Secret":
            for raw in (doc.get("data") or {}).values():
                values |= {raw, base64.b64decode(raw).decode()}
    return {v for v in values if len(v) >= 8}


@pytest.mark.parametrize("major", ["3", "4"])
def test_two_renders_of_acme_differ_only_where_helm_generates(major: str) -> None:
    helm = _helm(major)
    text_a, text_b = (_render(helm, "prod-3-incluster", "small") for _ in range(2))
    vol = volatile_from_text(text_a, text_b, "harness")
    assert vol.renamed == ["Job/acme-upgrade-*", "Job/migrate-db-*"]
    assert vol.unpaired == []
    assert vol.secrets_differing == ["acme-generated"]
    assert vol.volatile_fields == {
        ("Deployment", "api-server", "spec.template.metadata.annotations.rollme"),
        ("Secret", "acme-generated", "data.admin-token"),
        ("Secret", "acme-generated", "data.docdb-password"),
        ("Secret", "acme-generated", "data.sql-password"),
        ("Secret", "acme-generated", "data.tsdb-password"),
    }
    # Stripped and keyed by identity, the two renders compare equal.
    a, b = parse_manifest(text_a, "harness"), parse_manifest(text_b, "harness")
    strip_a = {k: vol.strip(o.body) for k, o in identities(a.objects, vol).items()}
    strip_b = {k: vol.strip(o.body) for k, o in identities(b.objects, vol).items()}
    assert strip_a == strip_b
    # A third render's random Job names map to the same identities.
    third = parse_manifest(_render(helm, "prod-3-incluster", "small"), "harness")
    assert set(identities(third.objects, vol)) == set(strip_a)
    # The Manifest comparison finds the same through the parser's keyed digests of Secret values.
    from_manifests = learn_volatile(a, b)
    assert from_manifests.renamed == vol.renamed
    assert from_manifests.volatile_fields == vol.volatile_fields
    assert from_manifests.secrets_differing == ["acme-generated"]
    # No Secret value in anything these produce.
    shown = repr(vol) + repr(from_manifests) + "\n".join(
        str(f) for f in determinism(vol) + dr_generated_secrets(vol))
    leaked = [v for v in _secret_values(text_a) | _secret_values(text_b) if v in shown]
    assert leaked == [], f"{len(leaked)} Secret value(s) leaked into the output"
