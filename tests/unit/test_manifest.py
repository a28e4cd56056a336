"""The manifest model: HPA-aware replicas, env resolution, Secret redaction, bad input."""

from __future__ import annotations

import pytest

from harness_refarch.manifest import REDACTED, ManifestError, parse_manifest

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


def test_not_a_kubernetes_object_is_a_readable_error() -> None:
    with pytest.raises(ManifestError, match=r"Document #0 of .* not a Kubernetes object"):
        parse_manifest("- just\n- a list\n", namespace="ns")
    with pytest.raises(ManifestError, match=r"not valid YAML \(.* at line 3\)") as info:
        parse_manifest("kind: Secret\ndata: {password: c2VjcmV0, [\n", namespace="ns")
    assert "c2VjcmV0" not in str(info.value)
