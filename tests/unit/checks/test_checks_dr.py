"""dr.warm_standby can fail: database hosts, traffic entry points, workloads, TLS."""

from __future__ import annotations

import pytest

from harness_refarch.checks import dr

MONGO = "mongodb+srv://cluster0.example.com/harness?retryWrites=true"
REDIS = "rediss://cache.example.com:6380"
INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: harness
spec:
  rules:
    - host: harness.example.com
"""


def _site(k8s, manifest, *, mongo=MONGO, redis=REDIS, ingress=False, workloads=("ng-manager", "pipeline-service"),
          extra=()):
    data = {"LOG_LEVEL": "INFO"}
    if mongo is not None:
        data["MONGO_URI"] = mongo
    if redis is not None:
        data["EVENTS_REDIS_URI"] = redis
    docs = [k8s.configmap("ng-manager", data), *(k8s.deployment(w) for w in workloads), *extra]
    if ingress:
        docs.append(INGRESS)
    return manifest(*docs)


def test_warm_standby_conformant(make_pair, k8s, manifest):
    """The primary takes traffic; the standby mirrors it without an entry point; host case is ignored."""
    primary = _site(k8s, manifest, ingress=True)
    standby = _site(k8s, manifest, mongo=MONGO.replace("cluster0", "CLUSTER0"))
    assert dr.warm_standby(make_pair(dr=True), primary, standby) == []


def test_warm_standby_different_database_hosts(make_pair, k8s, manifest):
    primary = _site(k8s, manifest)
    standby = _site(k8s, manifest, mongo=MONGO.replace("cluster0", "cluster1"))
    [f] = dr.warm_standby(make_pair(dr=True), primary, standby)
    assert f.check == "dr"
    assert f.workload == "mongo wiring"
    assert f.field == "standby database hosts"
    assert f.expected == "the primary's: cluster0.example.com"
    assert f.actual == "cluster1.example.com"


def test_warm_standby_database_not_wired(make_pair, k8s, manifest):
    [f] = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), _site(k8s, manifest, redis=None))
    assert (f.workload, f.expected, f.actual) == ("redis wiring", "the primary's: cache.example.com:6380", "none")


def test_warm_standby_database_only_on_standby(make_pair, k8s, manifest):
    [f] = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest, redis=None), _site(k8s, manifest))
    assert (f.workload, f.expected, f.actual) == ("redis wiring", "the primary's: none", "cache.example.com:6380")


@pytest.mark.parametrize(("kind", "api_version"), [
    ("Ingress", "networking.k8s.io/v1"),
    ("HTTPRoute", "gateway.networking.k8s.io/v1"),
    ("VirtualService", "networking.istio.io/v1beta1"),
    ("Gateway", "gateway.networking.k8s.io/v1"),
])
def test_warm_standby_renders_traffic_entry_point(make_pair, k8s, manifest, kind, api_version):
    route = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "harness"}, "spec": {}}
    [f] = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), _site(k8s, manifest, extra=[route]))
    assert f.workload == f"standby {kind}/harness"
    assert f.field == "traffic entry point"
    assert f.expected.startswith("none until the standby is activated")
    assert f.actual == "rendered"


def test_warm_standby_workload_missing(make_pair, k8s, manifest):
    standby = _site(k8s, manifest, workloads=("ng-manager",))
    [f] = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), standby)
    assert f.workload == "Deployment/pipeline-service"
    assert f.field == "workload on the standby"
    assert f.expected == "present (as on the primary)"
    assert f.actual == "missing"


def test_warm_standby_extra_workload(make_pair, k8s, manifest):
    standby = _site(k8s, manifest, workloads=("ng-manager", "pipeline-service", "chaos-manager"))
    [f] = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), standby)
    assert (f.workload, f.expected, f.actual) == ("Deployment/chaos-manager", "absent (not on the primary)", "present")


def test_warm_standby_non_tls_uri(make_pair, k8s, manifest):
    plain = "mongodb://mongo.example.com:27017/harness"
    findings = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest, mongo=plain), _site(k8s, manifest, mongo=plain))
    assert sorted(f.workload for f in findings) == [
        "primary ConfigMap/ng-manager:MONGO_URI", "standby ConfigMap/ng-manager:MONGO_URI"]
    for f in findings:
        assert f.field == "mongo TLS"
        assert f.expected == "on"
        assert f.actual == f"off in {plain}"


def test_warm_standby_non_tls_uri_masks_password(make_pair, k8s, manifest, text_of):
    uri = "redis://:Hunter2Secret@cache.example.com:6379"
    findings = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), _site(k8s, manifest, redis=uri))
    tls = [f for f in findings if f.field == "redis TLS"]
    assert [f.actual for f in tls] == ["off in redis://:****@cache.example.com:6379"]
    assert "Hunter2Secret" not in text_of(findings)
