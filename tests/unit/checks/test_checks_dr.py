"""dr.warm_standby can fail: database hosts, traffic entry points, workloads, TLS."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

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
    """The same host without TLS on both sites is one root cause: one finding naming both places."""
    plain = "mongodb://mongo.example.com:27017/harness"
    [f] = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest, mongo=plain), _site(k8s, manifest, mongo=plain))
    assert f.workload == "2 places: primary ConfigMap/ng-manager:MONGO_URI, standby ConfigMap/ng-manager:MONGO_URI"
    assert f.field == "mongo TLS"
    assert f.expected == "on"
    assert f.actual == f"off in {plain}"


def test_warm_standby_non_tls_only_on_standby(make_pair, k8s, manifest):
    plain = "mongodb://cluster0.example.com:27017/harness"
    findings = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), _site(k8s, manifest, mongo=plain))
    tls = [f for f in findings if f.field == "mongo TLS"]
    assert [(f.workload, f.actual) for f in tls] == [("standby ConfigMap/ng-manager:MONGO_URI", f"off in {plain}")]


def _many_services(k8s, count, uri):
    """``count`` services, each with its own ConfigMap holding a URI to the same database."""
    return [k8s.configmap(f"svc-{i:02d}", {"MONGO_URI": uri.format(i=i)}) for i in range(count)]


def test_warm_standby_repeated_tls_root_cause_reported_once(make_pair, k8s, manifest, text_of):
    """Twelve connection strings to one host without TLS: one finding, the count, the first five places."""
    plain = "mongodb://admin:Hunter2Secret@mongo.example.com:27017/db{i}"
    standby = _site(k8s, manifest, mongo=None, extra=_many_services(k8s, 12, plain))
    findings = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), standby)
    tls = [f for f in findings if f.field == "mongo TLS"]
    [f] = tls
    assert f.workload == ("12 places: standby ConfigMap/svc-00:MONGO_URI, standby ConfigMap/svc-01:MONGO_URI, "
                          "standby ConfigMap/svc-02:MONGO_URI, standby ConfigMap/svc-03:MONGO_URI, "
                          "standby ConfigMap/svc-04:MONGO_URI and 7 more")
    assert f.actual == ("off in mongodb://admin:****@mongo.example.com:27017/db0 "
                        "and 11 more connection string(s) to the same host(s)")
    assert len(findings) == 2  # plus the host difference; not 13
    assert "Hunter2Secret" not in text_of(findings)


def test_warm_standby_tls_findings_per_host(make_pair, k8s, manifest):
    """Two hosts without TLS are two root causes."""
    extra = [k8s.configmap("a", {"MONGO_URI": "mongodb://m1.example.com/x"}),
             k8s.configmap("b", {"MONGO_URI": "mongodb://m2.example.com/x"}),
             k8s.configmap("c", {"MONGO_URI": "mongodb://m2.example.com/y"})]
    site = _site(k8s, manifest, mongo=None, extra=extra)
    tls = sorted((f.workload, f.actual) for f in dr.warm_standby(make_pair(dr=True), site, site)
                 if f.field == "mongo TLS")
    assert tls == [
        ("2 places: primary ConfigMap/a:MONGO_URI, standby ConfigMap/a:MONGO_URI", "off in mongodb://m1.example.com/x"),
        ("4 places: primary ConfigMap/b:MONGO_URI, primary ConfigMap/c:MONGO_URI, standby ConfigMap/b:MONGO_URI, "
         "standby ConfigMap/c:MONGO_URI",
         "off in mongodb://m2.example.com/x and 1 more connection string(s) to the same host(s)"),
    ]


def _job(name):
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"containers": [{"name": "migrate", "image": "harness/migrate:1"}]}}}}


def test_warm_standby_jobs_with_generated_suffixes_are_the_same(make_pair, k8s, manifest):
    primary = _site(k8s, manifest, extra=[_job("db-migrate-x7k2p"), _job("hook-8f3a9c2d1e")])
    standby = _site(k8s, manifest, extra=[_job("db-migrate-9fz3q"), _job("hook-0b1c2d3e4f")])
    assert dr.warm_standby(make_pair(dr=True), primary, standby) == []


def test_warm_standby_different_job_still_missing(make_pair, k8s, manifest):
    primary = _site(k8s, manifest, extra=[_job("db-migrate-x7k2p"), _job("seed-data")])
    standby = _site(k8s, manifest, extra=[_job("db-migrate-9fz3q")])
    [f] = dr.warm_standby(make_pair(dr=True), primary, standby)
    assert (f.workload, f.actual) == ("Job/seed-data", "missing")


@pytest.mark.parametrize(("key", "expected"), [
    ("Job/db-migrate-x7k2p", "Job/db-migrate-*"),
    ("Job/upgrade-hook-8f3a9c2d", "Job/upgrade-hook-*"),
    ("Deployment/ng-manager", "Deployment/ng-manager"),
    ("StatefulSet/redis-sentinel-harness-server", "StatefulSet/redis-sentinel-harness-server"),
    ("Deployment/pipeline-service", "Deployment/pipeline-service"),
])
def test_identity_strips_generated_suffixes_only(key, expected):
    assert dr.identity(key) == expected


def test_warm_standby_non_tls_uri_masks_password(make_pair, k8s, manifest, text_of):
    uri = "redis://:Hunter2Secret@cache.example.com:6379"
    findings = dr.warm_standby(make_pair(dr=True), _site(k8s, manifest), _site(k8s, manifest, redis=uri))
    tls = [f for f in findings if f.field == "redis TLS"]
    assert [f.actual for f in tls] == ["off in redis://:****@cache.example.com:6379"]
    assert "Hunter2Secret" not in text_of(findings)


def test_standby_identical_to_primary_names_the_real_cause(make_pair, k8s, manifest, tmp_path):
    """The released chart reads no global.dr key: the standby render is the primary's, Ingresses
    included. One finding says so (the overlay's keys change nothing), not one per Ingress as if
    the chart had been asked to drop them."""
    overlay = tmp_path / "dr-standby.yaml"
    overlay.write_text("global:\n  dr:\n    createCluster: true\n    activateCluster: false\n")
    pair = make_pair(dr=True)
    pair = dataclasses.replace(pair, architecture=dataclasses.replace(pair.architecture, standby_overlay=overlay))
    second = {**yaml.safe_load(INGRESS), "metadata": {"name": "api"}}
    site = _site(k8s, manifest, ingress=True, extra=[second])
    [f] = dr.warm_standby(pair, site, _site(k8s, manifest, ingress=True, extra=[second]))
    assert (f.workload, f.field) == ("standby render", "what dr-standby.yaml changes")
    assert f.expected == ("a standby that takes no traffic until activated "
                          "(global.dr.createCluster: true, global.dr.activateCluster: false)")
    assert f.actual == ("nothing: the standby render equals the primary's, with its 2 traffic entry point(s) "
                        "(Ingress/api, ...)")
    assert "reads none of the keys the standby overlay sets" in f.hint
    # a standby that differs (one Ingress fewer) keeps the symptom findings: the overlay did something
    [g] = dr.warm_standby(pair, site, _site(k8s, manifest, extra=[second]))
    assert (g.workload, g.field) == ("standby Ingress/api", "traffic entry point")
