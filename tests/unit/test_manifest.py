"""The manifest model: HPA-aware replicas, env resolution, Secret redaction, bad input."""

from __future__ import annotations

import pytest

from harness_refarch.model.manifest import REDACTED, ManifestError, parse_manifest

STREAM = """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: svc-config}
data:
  MONGO_URI: mongodb://$(MONGO_USER):$(MONGO_PASSWORD)@db-0.db.ns.svc:27017/app
  MEMORY: 1024m
  OVERRIDDEN: from-configmap
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {password: c3VwZXItc2VjcmV0LXZhbHVl}
stringData: {token: plain-token-value}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: autoscaled}
spec:
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
        - name: main
          image: example/a:1.0
          envFrom:
            - configMapRef: {name: svc-config}
            - secretRef: {name: creds}
              prefix: S_
          env:
            - {name: OVERRIDDEN, value: from-env}
            - name: MONGO_PASSWORD
              valueFrom: {secretKeyRef: {name: creds, key: password}}
            - name: ONE_KEY
              valueFrom: {configMapKeyRef: {name: svc-config, key: MEMORY}}
            - name: GONE
              valueFrom: {configMapKeyRef: {name: svc-config, key: NOPE}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: fixed}
spec:
  replicas: 3
  template: {spec: {containers: [{name: c, image: x:1}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: defaulted}
spec:
  template: {spec: {containers: [{name: c, image: x:1}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: autoscaled}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: autoscaled}
  minReplicas: 4
  maxReplicas: 6
"""


@pytest.fixture(scope="module")
def manifest():
    return parse_manifest(STREAM, namespace="ns")


def test_objects_are_indexed_by_kind_and_name(manifest) -> None:
    assert manifest.get("Deployment", "fixed").spec["replicas"] == 3
    assert manifest.get("Service", "fixed") is None
    assert manifest.kinds() == {"ConfigMap": 1, "Secret": 1, "Deployment": 3, "HorizontalPodAutoscaler": 1}
    assert all(o.namespace == "ns" for o in manifest.objects)


def test_effective_replicas_come_from_the_hpa_when_one_targets_the_workload(manifest) -> None:
    w = manifest.workloads["Deployment/autoscaled"]
    assert (w.replicas, w.replicas_source, w.hpa.name) == (4, "hpa", "autoscaled")
    assert (manifest.workloads["Deployment/fixed"].replicas,
            manifest.workloads["Deployment/fixed"].replicas_source) == (3, "spec.replicas")
    assert manifest.workloads["Deployment/defaulted"].replicas == 1


def test_env_from_configmap_and_env_override(manifest) -> None:
    env = manifest.workloads["Deployment/autoscaled"].containers[0].env
    assert env["MONGO_URI"].source == "configMap"
    assert env["MONGO_URI"].ref == "ConfigMap/svc-config:MONGO_URI"
    assert env["MONGO_URI"].value.startswith("mongodb://$(MONGO_USER)")
    assert env["MEMORY"].value == "1024m"
    assert env["OVERRIDDEN"].value == "from-env" and env["OVERRIDDEN"].source == "value"
    assert env["ONE_KEY"].value == "1024m"
    assert env["GONE"].missing and env["GONE"].value is None


def test_secret_values_are_never_exposed(manifest) -> None:
    env = manifest.workloads["Deployment/autoscaled"].containers[0].env
    assert env["MONGO_PASSWORD"].from_secret and env["MONGO_PASSWORD"].value is None
    assert env["S_password"].from_secret and env["S_token"].value is None
    secret = manifest.get("Secret", "creds")
    assert secret.body["data"] == {"password": REDACTED}
    assert secret.body["stringData"] == {"token": REDACTED}
    assert "c3VwZXI" not in repr(manifest.objects) and "plain-token" not in repr(env)


def test_not_a_kubernetes_object_is_a_finding_not_a_crash() -> None:
    parsed = parse_manifest("- just\n- a list\n---\nkind: ConfigMap\nmetadata: {name: ok}\n", namespace="ns")
    assert [str(p) for p in parsed.problems] == [
        "document #0: kind: expected a Kubernetes object with a string 'kind', got list"]
    assert [o.key for o in parsed.objects] == ["ConfigMap/ok"]


MALFORMED = """
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, metadata: {name: no-kind}}
  - {apiVersion: v1, kind: Secret, metadata: {name: s}, data: {password: aHVudGVyMg==}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stringy}
spec: "x"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worded}
spec:
  replicas: three
  template:
    metadata: {labels: {app: w}}
    spec:
      containers:
        - name: c
          image: x:1
          env: ["FOO=bar", {name: OK, value: "1"}]
          resources: "lots"
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h}
spec: {scaleTargetRef: {kind: Deployment, name: worded}, minReplicas: "2", maxReplicas: 4}
"""


def test_malformed_objects_become_findings_naming_object_field_and_type() -> None:
    parsed = parse_manifest(MALFORMED, namespace="ns")
    problems = {(p.workload, p.field, p.expected) for p in parsed.problems}
    assert ("document #0 (List) item #0", "kind", "a Kubernetes object with a string 'kind'") in problems
    assert ("Deployment/stringy", "spec", "a mapping") in problems
    assert ("Deployment/worded", "spec.replicas", "an integer") in problems
    assert ("Deployment/worded", "spec.template.spec.containers[0].env[0]", "a mapping") in problems
    assert ("Deployment/worded", "spec.template.spec.containers[0].resources", "a mapping") in problems
    assert ("HorizontalPodAutoscaler/h", "spec.minReplicas", "an integer") in problems
    # The checks see the bad fields as absent, and nothing crashes.
    worded = parsed.workloads["Deployment/worded"]
    assert worded.replicas == 1 and worded.replicas_source == "hpa"
    assert list(worded.containers[0].env) == ["OK"] and worded.containers[0].resources == {}
    assert parsed.workloads["Deployment/stringy"].containers == ()
    assert "aHVudGVyMg" not in repr([str(p) for p in parsed.problems])


def test_invalid_yaml_is_a_readable_error_without_excerpt() -> None:
    with pytest.raises(ManifestError, match=r"not valid YAML \(.* at line 3, column 1\)") as info:
        parse_manifest("kind: Secret\ndata: {password: c2VjcmV0, [\n", namespace="ns")
    assert "c2VjcmV0" not in str(info.value)
