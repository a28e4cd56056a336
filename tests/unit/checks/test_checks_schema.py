"""Self-tests of the schema check: each rule fails on a broken object with a readable message,
Secret data never reaches a message, and the embedded chart validates clean for every render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness_refarch.checks import schema
from harness_refarch.checks.schema import SchemaError, validate
from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.helm.render import render
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding, report
from harness_refarch.model.manifest import Manifest

REPO = Path(__file__).resolve().parents[3]
SCHEMAS = REPO / "fixtures" / "schemas"
KUBE = "1.29.0"

Build = Callable[..., Manifest]


def _only(findings: list[Finding], field: str) -> Finding:
    hits = [f for f in findings if f.field == field]
    assert len(hits) == 1, report(findings, "unit test") or "no findings"
    return hits[0]


def _schedule(**template: Any) -> dict[str, Any]:
    return {"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": {"name": "backup", "namespace": "velero"},
            "spec": {"schedule": "0 7 * * *", "template": {"includedNamespaces": ["harness"], "ttl": "720h0m0s",
                                                           "snapshotVolumes": True, **template}}}


def _snapshot_class(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": "velero-snapshots", "labels": {"velero.io/csi-volumesnapshot-class": "true"}},
            "driver": "ebs.csi.aws.com", "deletionPolicy": "Retain", **fields}


# -- built-in kinds ---------------------------------------------------------------------------
def test_a_clean_deployment_passes(manifest: Build, k8s: SimpleNamespace) -> None:
    result = validate(manifest(k8s.deployment("ng-manager"), k8s.service("ng-manager")), KUBE, SCHEMAS)
    assert result.findings == []
    assert result.unvalidated == []
    assert result.validated == 2
    assert result.schema_version == "1.29.0"


def test_invalid_quantity_names_object_field_and_complaint(manifest: Build, k8s: SimpleNamespace) -> None:
    """What `--set platform.ng-manager.resources.requests.cpu=lots` renders."""
    m = manifest(k8s.deployment("ng-manager", containers=[k8s.container("ng-manager", cpu="lots")]))
    finding = _only(validate(m, KUBE, SCHEMAS).findings, "spec.template.spec.containers[0].resources.requests.cpu")
    assert finding.check == "schema"
    assert finding.workload == "Deployment/ng-manager"
    assert "quantity" in finding.expected
    assert finding.actual == "invalid quantity 'lots'"
    assert "Deployment/ng-manager: spec.template.spec.containers[0].resources.requests.cpu" in str(finding)


@pytest.mark.parametrize("value", ["500m", "2", 2, 0.5, "1.5", "512Mi", "1Gi", "1e3", "+1k", ".5"])
def test_valid_quantities_pass(manifest: Build, k8s: SimpleNamespace, value: Any) -> None:
    m = manifest(k8s.deployment("app", containers=[k8s.container(memory=value, memory_limit=value)]))
    assert validate(m, KUBE, SCHEMAS).findings == []


@pytest.mark.parametrize("value", ["lots", "1 Gi", "1GB", "Gi", "1.2.3", "-", "1Mi1"])
def test_invalid_quantities_fail(manifest: Build, k8s: SimpleNamespace, value: str) -> None:
    m = manifest(k8s.deployment("app", containers=[k8s.container(memory_limit=value)]))
    finding = _only(validate(m, KUBE, SCHEMAS).findings, "spec.template.spec.containers[0].resources.limits.memory")
    assert finding.actual.startswith("invalid quantity")


def test_unknown_field_is_an_error_with_a_suggestion(manifest: Build, k8s: SimpleNamespace) -> None:
    doc = k8s.deployment("ng-manager")
    doc["spec"]["replicaz"] = 3
    finding = _only(validate(manifest(doc), KUBE, SCHEMAS).findings, "spec.replicaz")
    assert finding.actual == "unknown field 'replicaz'"
    assert finding.hint == "did you mean 'replicas'?"


def test_unknown_field_deep_in_a_container(manifest: Build, k8s: SimpleNamespace) -> None:
    container = k8s.container("app")
    container["resource"] = {"limits": {"cpu": 1}}
    finding = _only(validate(manifest(k8s.deployment("app", containers=[container])), KUBE, SCHEMAS).findings,
                    "spec.template.spec.containers[0].resource")
    assert "unknown field" in finding.actual
    assert finding.hint == "did you mean 'resources'?"


def test_wrong_type(manifest: Build, k8s: SimpleNamespace) -> None:
    doc = k8s.deployment("app")
    doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "thirty"
    finding = _only(validate(manifest(doc), KUBE, SCHEMAS).findings,
                    "spec.template.spec.terminationGracePeriodSeconds")
    assert finding.expected == "type integer"
    assert finding.actual == "string 'thirty'"


def test_label_values_must_be_strings(manifest: Build, k8s: SimpleNamespace) -> None:
    doc = k8s.service("app")
    doc["metadata"]["labels"] = {"app.kubernetes.io/version": 1}
    finding = _only(validate(manifest(doc), KUBE, SCHEMAS).findings, 'metadata.labels["app.kubernetes.io/version"]')
    assert finding.expected == "type string"


def test_int_or_string_rejects_an_object(manifest: Build, k8s: SimpleNamespace) -> None:
    doc = k8s.service("app")
    doc["spec"]["ports"] = [{"port": 80, "targetPort": {"name": "http"}}]
    finding = _only(validate(manifest(doc), KUBE, SCHEMAS).findings, "spec.ports[0].targetPort")
    assert finding.expected == "type string or integer"
    assert finding.actual == "object"


def test_missing_required_field(manifest: Build, k8s: SimpleNamespace) -> None:
    container = k8s.container("app")
    del container["name"]
    findings = validate(manifest(k8s.deployment("app", containers=[container])), KUBE, SCHEMAS).findings
    finding = _only(findings, "spec.template.spec.containers[0].name")
    assert finding.actual == "missing required field 'name'"


def test_api_version_not_served_by_the_target(manifest: Build) -> None:
    doc = {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}}
    result = validate(manifest(doc), KUBE, SCHEMAS)
    finding = _only(result.findings, "apiVersion")
    assert finding.expected == "policy/v1 (served by Kubernetes 1.29)"
    assert finding.actual == "policy/v1beta1, not served by Kubernetes 1.29"
    assert result.unvalidated == []  # a built-in API is never "no schema": it is an error


def test_kind_of_a_removed_group_points_to_its_new_group(manifest: Build) -> None:
    doc = {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "ingress"}}
    result = validate(manifest(doc), KUBE, SCHEMAS)
    assert _only(result.findings, "apiVersion").expected == "networking.k8s.io/v1 (served by Kubernetes 1.29)"
    assert result.unvalidated == []


def test_unknown_kind_in_a_builtin_group(manifest: Build) -> None:
    doc = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}
    finding = _only(validate(manifest(doc), KUBE, SCHEMAS).findings, "kind")
    assert finding.actual == "Deploymnet, unknown in apps/v1"
    assert finding.hint == "did you mean 'Deployment'?"


def test_missing_api_version(manifest: Build) -> None:
    doc = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
    assert _only(validate(manifest(doc), KUBE, SCHEMAS).findings, "apiVersion").actual == "missing"


def test_yaml_timestamps_are_strings_as_for_the_api_server(manifest: Build) -> None:
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    built: 2024-01-01\n"
            "data:\n  a: b\n")
    assert validate(manifest(text), KUBE, SCHEMAS).findings == []


# -- custom resources -------------------------------------------------------------------------
def test_custom_resources_with_a_schema_validate(manifest: Build) -> None:
    result = validate(manifest(_schedule(), _snapshot_class()), KUBE, SCHEMAS)
    assert result.findings == []
    assert result.unvalidated == []
    assert result.validated == 2


def test_custom_resource_without_schema_is_not_validated(manifest: Build, k8s: SimpleNamespace) -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"}, "spec": {"anything": 1}}
    result = validate(manifest(doc, k8s.service("app")), KUBE, SCHEMAS)
    assert result.findings == []
    assert result.unvalidated == ["Foo (example.com/v1)"]
    assert result.validated == 1  # the Service only: Foo is never counted as passed
    assert result.skip_reason() == "not validated: no schema for Foo (example.com/v1)"


def test_other_version_of_a_custom_resource_is_not_validated(manifest: Build) -> None:
    doc = dict(_schedule(), apiVersion="velero.io/v2alpha1")
    assert validate(manifest(doc), KUBE, SCHEMAS).unvalidated == ["Schedule (velero.io/v2alpha1)"]


def test_custom_resource_wrong_type_and_unknown_field(manifest: Build) -> None:
    findings = validate(manifest(_schedule(ttl=72, snapshotVolume=True)), KUBE, SCHEMAS).findings
    assert _only(findings, "spec.template.ttl").actual == "integer 72"
    unknown = _only(findings, "spec.template.snapshotVolume")
    assert unknown.workload == "Schedule/backup"
    assert unknown.hint == "did you mean 'snapshotVolumes'?"


def test_custom_resource_missing_required_and_enum(manifest: Build) -> None:
    doc = _snapshot_class(deletionPolicy="Keep")
    del doc["driver"]
    findings = validate(manifest(doc), KUBE, SCHEMAS).findings
    assert _only(findings, "driver").actual == "missing required field 'driver'"
    policy = _only(findings, "deletionPolicy")
    assert policy.expected == "one of Delete, Retain"
    assert policy.actual == "string 'Keep'"


def test_custom_resource_metadata_is_checked_as_object_meta(manifest: Build) -> None:
    doc = _snapshot_class()
    doc["metadata"]["lables"] = {"a": "b"}
    finding = _only(validate(manifest(doc), KUBE, SCHEMAS).findings, "metadata.lables")
    assert finding.hint == "did you mean 'labels'?"


def test_schema_files_name_their_source() -> None:
    schemas = schema.load_custom_schemas(SCHEMAS)
    assert set(schemas) >= {("velero.io", "v1", "Schedule"), ("snapshot.storage.k8s.io", "v1", "VolumeSnapshotClass")}
    for item in schemas.values():
        assert item.source.startswith("https://github.com/"), item.path
        assert "/blob/" in item.source and len(item.source.split("/blob/")[1].split("/")[0]) == 40, item.path


def test_schema_file_without_source_is_an_error(tmp_path: Path, manifest: Build) -> None:
    (tmp_path / "foo.yaml").write_text("group: example.com\nkind: Foo\nversions:\n  v1:\n"
                                       "    openAPIV3Schema: {type: object}\n")
    with pytest.raises(SchemaError, match=r"foo\.yaml lacks `source`"):
        validate(manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}), KUBE, tmp_path)


def test_a_kind_with_two_schema_files_is_an_error(tmp_path: Path) -> None:
    text = ("source: https://example.com/crd.yaml\ngroup: example.com\nkind: Foo\n"
            "versions:\n  v1:\n    openAPIV3Schema: {type: object}\n")
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(SchemaError, match=r"Foo \(example\.com/v1\) has two schemas"):
        schema.load_custom_schemas(tmp_path)


def test_a_new_schema_file_is_picked_up(tmp_path: Path, manifest: Build) -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"}, "spec": {"size": "big"}}
    assert validate(manifest(doc), KUBE, tmp_path).unvalidated == ["Foo (example.com/v1)"]
    (tmp_path / "foo.yaml").write_text(
        "source: https://example.com/crd.yaml\ngroup: example.com\nkind: Foo\nversions:\n  v1:\n"
        "    openAPIV3Schema:\n      type: object\n      properties:\n        apiVersion: {type: string}\n"
        "        kind: {type: string}\n        metadata: {type: object}\n"
        "        spec:\n          type: object\n          properties:\n            size: {type: integer}\n")
    result = validate(manifest(doc), KUBE, tmp_path)
    assert result.unvalidated == []
    assert _only(result.findings, "spec.size").actual == "string 'big'"


def test_openapi_conversion() -> None:
    converted = schema.openapi_to_json_schema({
        "type": "object", "description": "dropped",
        "properties": {
            "a": {"type": "string", "nullable": True},
            "b": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                  "properties": {"d": {"type": "string"}}},
            "e": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    })
    assert "description" not in converted
    assert converted["additionalProperties"] is False
    props = converted["properties"]
    assert props["a"]["type"] == ["string", "null"]
    assert props["b"]["type"] == ["integer", "string"]
    assert "additionalProperties" not in props["c"]
    assert props["e"]["additionalProperties"] == {"type": "string"}


# -- secrets ----------------------------------------------------------------------------------
def test_secret_values_never_appear_in_messages(manifest: Build, k8s: SimpleNamespace,
                                                text_of: Callable[[list[Finding]], str]) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
              "stringData": {"password": "hunter2-stringdata"}, "data": {"token": "aHVudGVyMi1kYXRh"},
              "immutable": "hunter2-immutable", "passwd": "hunter2-unknown"}
    uri = k8s.container("app", cpu="redis://:hunter2-uri@cache:6379")
    long_value = k8s.container("side", memory="x" * 30 + "hunter2-long" + "y" * 30)
    findings = validate(manifest(secret, k8s.deployment("app", containers=[uri, long_value])), KUBE, SCHEMAS).findings
    text = text_of(findings)
    assert {f.field for f in findings} >= {"immutable", "passwd",
                                           "spec.template.spec.containers[0].resources.requests.cpu",
                                           "spec.template.spec.containers[1].resources.requests.memory"}
    assert "hunter2" not in text
    assert _only(findings, "immutable").actual == "string"
    assert "****" in _only(findings, "spec.template.spec.containers[0].resources.requests.cpu").actual


# -- versions and cache -----------------------------------------------------------------------
def test_shipped_versions_and_mapping() -> None:
    shipped = schema.supported_versions()
    assert {"1.27.0", "1.29.0"} <= set(shipped)
    assert schema.schema_version_for("1.29.0") == "1.29.0"
    assert schema.schema_version_for("v1.29.7") == "1.29.0"
    assert schema.schema_version_for("1.27.3-gke.100") == "1.27.0"


@pytest.mark.parametrize("version", ["1.10.0", "9.99.0", "latest"])
def test_unsupported_version_is_a_readable_error(version: str, manifest: Build) -> None:
    with pytest.raises(RefarchError) as info:
        validate(manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}), version, SCHEMAS)
    assert version in str(info.value)
    assert "--cluster-version" in str(info.value)


def test_identical_objects_are_validated_once(manifest: Build, k8s: SimpleNamespace) -> None:
    schema.clear_cache()
    broken = k8s.deployment("ng-manager", containers=[k8s.container("ng-manager", cpu="lots")])
    first = validate(manifest(broken, k8s.service("ng-manager")), KUBE, SCHEMAS)
    second = validate(manifest(broken, k8s.service("ng-manager")), KUBE, SCHEMAS)
    assert (first.cached, second.cached) == (0, 2)
    assert first.findings == second.findings != []
    other = validate(manifest(broken), "1.30.0", SCHEMAS)  # another schema set: validated anew
    assert other.cached == 0


def test_validators_are_built_once_per_kind(manifest: Build, k8s: SimpleNamespace) -> None:
    validate(manifest(k8s.deployment("a"), k8s.service("a")), KUBE, SCHEMAS)
    built = dict(schema._kube_schemas(KUBE).validators)
    validate(manifest(k8s.deployment("b", replicas=5), k8s.service("b", port=8080)), KUBE, SCHEMAS)
    after = schema._kube_schemas(KUBE).validators
    assert after.keys() == built.keys()
    assert all(after[key] is built[key] for key in built)


def test_a_changed_custom_schema_is_not_answered_from_the_cache(tmp_path: Path, manifest: Build) -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"}, "spec": {"size": "big"}}
    head = ("source: https://example.com/crd.yaml\ngroup: example.com\nkind: Foo\nversions:\n  v1:\n"
            "    openAPIV3Schema:\n      type: object\n      properties:\n        apiVersion: {type: string}\n"
            "        kind: {type: string}\n        metadata: {type: object}\n"
            "        spec:\n          type: object\n          properties:\n            size: ")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "foo.yaml").write_text(head + "{type: integer}\n")
    (two / "foo.yaml").write_text(head + "{type: string}\n")
    assert len(validate(manifest(doc), KUBE, one).findings) == 1
    assert validate(manifest(doc), KUBE, two).findings == []


def test_json_path_quotes_keys_with_dots() -> None:
    path = schema.json_path(["metadata", "labels", "app.kubernetes.io/name"])
    assert path == 'metadata.labels["app.kubernetes.io/name"]'
    assert schema.json_path(["spec", "containers", 0, "env", 2]) == "spec.containers[0].env[2]"


# -- the embedded chart -----------------------------------------------------------------------


def test_set_cpu_lots_fails_on_the_real_chart() -> None:
    """Issue 8: `--set platform.ng-manager.resources.requests.cpu=lots` names the object and the field."""
    session = RefarchSession(Options(chart=REPO / "charts" / "harness-prod", fixtures=REPO / "fixtures"))
    pair = next(p for p in session.pairs if p.id == "large-prod-3-incluster")
    request = replace(session.request(pair), sets=("platform.ng-manager.resources.requests.cpu=lots",))
    findings = validate(render(session.helm, request), KUBE, SCHEMAS).findings
    finding = _only(findings, "spec.template.spec.containers[0].resources.requests.cpu")
    assert finding.workload == "Deployment/ng-manager"
    assert finding.actual == "invalid quantity 'lots'"


@pytest.mark.parametrize("kube_version", ["1.27.0", KUBE])
def test_embedded_chart_validates_clean(renders: list[tuple[str, Manifest]], kube_version: str) -> None:
    assert len(renders) == 19
    problems = []
    for label, m in renders:
        result = validate(m, kube_version, SCHEMAS)
        if result.findings:
            problems.append(report(result.findings, label))
        if result.unvalidated:
            problems.append(f"{label}: {result.skip_reason()}")
        assert result.validated == len(m.objects)
    assert not problems, "\n".join(problems)
