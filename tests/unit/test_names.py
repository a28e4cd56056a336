"""Names as Kubernetes allows them, and as helm renders them anyway (issue 14)."""

from __future__ import annotations

from pathlib import Path

from harness_refarch.checks import resources, schema
from harness_refarch.model.manifest import parse_manifest
from harness_refarch.plugin.hooks import select_workload

SPACED = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: "bad name"}
spec:
  replicas: 1
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: [{name: c, image: "nginx:1.25"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: 1
  selector: {matchLabels: {app: y}}
  template:
    metadata: {labels: {app: y}}
    spec:
      containers:
        - name: c
          image: "nginx:1.25"
          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 64Mi}}
"""


def test_a_workload_whose_name_has_a_space_keeps_its_findings() -> None:
    manifest = parse_manifest(SPACED, namespace="harness")
    assert manifest.workload_of("Deployment/bad name container c") == "Deployment/bad name"
    assert manifest.workload_of("Deployment/bad container c") == "Deployment/bad"
    findings = resources.container_resources(None, manifest)  # type: ignore[arg-type]  # spec unused
    spaced = select_workload(findings, "Deployment/bad name", manifest)
    assert spaced and all(f.workload.startswith("Deployment/bad name ") for f in spaced), findings
    assert select_workload(findings, "Deployment/bad", manifest) == []


def test_a_name_the_api_server_refuses_is_a_schema_finding() -> None:
    manifest = parse_manifest(SPACED, namespace="harness")
    found = schema.validate(manifest, "1.29.0", Path("/nonexistent")).findings
    names = [f for f in found if f.field == "metadata.name"]
    assert [f.workload for f in names] == ["Deployment/bad name"], found
    assert "DNS-1123 subdomain" in names[0].expected and "'bad name'" in names[0].actual


def test_service_names_are_dns_labels() -> None:
    assert schema._name_findings("Service", "Service/a.b", "a.b")
    assert not schema._name_findings("ConfigMap", "ConfigMap/a.b", "a.b")
    assert not schema._name_findings("Job", "Job/", "")  # generateName
