"""integrity: every reference between rendered objects resolves, each broken one names pod, kind and name."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness_refarch.checks import integrity
from harness_refarch.checks.integrity import External, ExternalEntry, ExternalObjectsError, load_external

NONE = External()


def _run(make_pair, m, external: External = NONE):
    return integrity.integrity(make_pair(), m, external)


def _with_ports(k8s, name="app", ports=({"name": "http", "containerPort": 8080},)):
    c = k8s.container(name)
    c["ports"] = [dict(p) for p in ports]
    return c


def _service(name, selector, ports):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": dict(selector), "ports": [dict(p) for p in ports]}}


def _ingress(backends, default=None):
    spec = {"rules": [{"host": "h.example.com", "http": {"paths": [
        {"path": path, "pathType": "Prefix", "backend": {"service": {"name": svc, "port": port}}}
        for path, svc, port in backends]}}]}
    if default is not None:
        spec["defaultBackend"] = default
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"}, "spec": spec}


def _secret(name, *keys):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {k: "c2VjcmV0" for k in keys}}


# -- a conformant render ------------------------------------------------------------------------
def test_conformant_render_has_no_findings(make_pair, k8s, manifest):
    api = k8s.deployment("api", containers=[_with_ports(k8s, "api")])
    api["spec"]["template"]["spec"]["volumes"] = [{"name": "conf", "configMap": {"name": "api-conf"}}]
    api["spec"]["template"]["spec"]["containers"][0]["env"] = [k8s.secret_env("DB_PASSWORD", "db", "password")]
    m = manifest(api, k8s.configmap("api-conf", {"a": "b"}), _secret("db", "password"),
                 _service("api", {"app": "api"}, [{"port": 80, "targetPort": "http"}]),
                 _service("api-direct", {"app": "api"}, [{"port": 8080}]),
                 k8s.hpa("api", "api"), k8s.pdb("api", {"app": "api"}, max_unavailable=1),
                 _ingress([("/", "api", {"number": 80}), ("/x", "api-direct", {"number": 8080})]))
    assert _run(make_pair, m) == []


# -- workload selectors -------------------------------------------------------------------------
def test_workload_selector_not_matching_its_pods(make_pair, k8s, manifest):
    d = k8s.deployment("api")
    d["spec"]["selector"] = {"matchLabels": {"app": "apiserver"}}
    [f] = _run(make_pair, manifest(d))
    assert (f.check, f.workload, f.field) == ("integrity", "Deployment/api", "spec.selector")
    assert f.expected == "matches the pod template labels"
    assert f.actual == "selector app=apiserver vs labels app=api"


def test_workload_without_selector(make_pair, k8s, manifest):
    d = k8s.statefulset("mongo")
    del d["spec"]["selector"]
    [f] = _run(make_pair, manifest(d))
    assert (f.workload, f.actual) == ("StatefulSet/mongo", "selector (empty) vs labels app=mongo")


# -- Services -----------------------------------------------------------------------------------
def test_service_selecting_nothing(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("api"), _service("api", {"app": "apx"}, [{"port": 80}]))
    [f] = _run(make_pair, m)
    assert (f.workload, f.field) == ("Service/api", "spec.selector")
    assert f.expected == "selects at least one rendered pod template"
    assert f.actual == "app=apx selects nothing"
    assert "no endpoints" in f.hint


def test_service_target_port_name_missing(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("api", containers=[_with_ports(k8s)]),
                 _service("api", {"app": "api"}, [{"name": "grpc", "port": 9090, "targetPort": "grpc"}]))
    [f] = _run(make_pair, m)
    assert (f.workload, f.field) == ("Service/api", "spec.ports[0] (grpc) targetPort")
    assert f.expected == "a container port named grpc on Deployment/api"
    assert f.actual == "named ports: http"


def test_numeric_target_port_needs_no_declared_container_port(make_pair, k8s, manifest):
    """Kubernetes forwards a numeric targetPort (or ``port`` without one) whatever the pod
    declares: an undeclared number is no dangling reference (the released chart's
    delegate-proxy and harness-manager Services)."""
    m = manifest(k8s.deployment("api", containers=[_with_ports(k8s)]),
                 k8s.deployment("proxy", containers=[k8s.container("proxy")]),
                 _service("api", {"app": "api"}, [{"port": 80, "targetPort": 9000}, {"port": 81}]),
                 _service("proxy", {"app": "proxy"}, [{"port": 80, "targetPort": "8080"}]))
    assert _run(make_pair, m) == []


def test_service_without_selector_is_not_followed(make_pair, k8s, manifest):
    svc = _service("external-db", {}, [{"port": 5432}])
    assert _run(make_pair, manifest(k8s.deployment("api"), svc)) == []


def test_statefulset_pod_name_service(make_pair, k8s, manifest):
    """Per-pod Services select the label the StatefulSet controller adds; an ordinal beyond the
    replicas selects nothing."""
    sts = k8s.statefulset("redis", replicas=3, containers=[_with_ports(k8s, "redis", [{"containerPort": 6379}])])
    ok = [_service(f"redis-{i}", {"app": "redis", "statefulset.kubernetes.io/pod-name": f"redis-{i}"},
                   [{"port": 6379}]) for i in range(3)]
    assert _run(make_pair, manifest(sts, *ok)) == []
    beyond = _service("redis-3", {"statefulset.kubernetes.io/pod-name": "redis-3"}, [{"port": 6379}])
    [f] = _run(make_pair, manifest(sts, *ok, beyond))
    assert (f.workload, f.actual) == ("Service/redis-3", "statefulset.kubernetes.io/pod-name=redis-3 selects nothing")


RUNTIME = External(runtime_labels={"role": "set by Patroni", "statefulset.kubernetes.io/pod-name": "sts"})


def test_selector_on_runtime_label_is_judged_on_its_other_labels(make_pair, k8s, manifest):
    """Patroni sets ``role`` on running pods: a Service or PDB selecting ``role: replica`` and
    the pods' own labels selects them; a wrong other label still selects nothing."""
    tsdb = k8s.statefulset("tsdb", replicas=3, containers=[_with_ports(k8s, "tsdb", [{"containerPort": 5432}])])
    replica = _service("tsdb-replica", {"app": "tsdb", "role": "replica"}, [{"port": 5432}])
    pdb = k8s.pdb("tsdb", {"app": "tsdb", "role": "master"}, max_unavailable=1)
    assert _run(make_pair, manifest(tsdb, replica, pdb), RUNTIME) == []
    # without the runtime-labels data the same selector selects nothing: the data is what decides
    assert {f.workload for f in _run(make_pair, manifest(tsdb, replica, pdb))} == {
        "Service/tsdb-replica", "PodDisruptionBudget/tsdb"}
    wrong = _service("tsdb-replica", {"app": "tsdx", "role": "replica"}, [{"port": 5432}])
    [f] = _run(make_pair, manifest(tsdb, wrong), RUNTIME)
    assert (f.workload, f.actual) == ("Service/tsdb-replica", "app=tsdx, role=replica selects nothing")


def test_repository_runtime_labels_file_loads():
    root = Path(__file__).resolve().parents[3] / "fixtures"
    external = load_external(root / "external-objects.yaml", {})
    assert {"role", "statefulset.kubernetes.io/pod-name", "controller-revision-hash",
            "apps.kubernetes.io/pod-index"} <= set(external.runtime_labels)


@pytest.mark.parametrize("text", ["labels: [role]\n", "role: x\n", "labels: {role: ''}\n"])
def test_runtime_labels_file_malformed(tmp_path: Path, text):
    (tmp_path / "external-objects.yaml").write_text("")
    (tmp_path / "runtime-labels.yaml").write_text(text)
    with pytest.raises(ExternalObjectsError, match=r"runtime-labels file .* is malformed"):
        load_external(tmp_path / "external-objects.yaml", {})


# -- HPAs and PDBs ------------------------------------------------------------------------------
def test_hpa_target_missing(make_pair, k8s, manifest):
    [f] = _run(make_pair, manifest(k8s.deployment("api"), k8s.hpa("api", "api", kind="StatefulSet")))
    assert (f.workload, f.field) == ("HorizontalPodAutoscaler/api", "spec.scaleTargetRef")
    assert f.actual == "no StatefulSet api"


def test_pdb_selecting_nothing(make_pair, k8s, manifest):
    [f] = _run(make_pair, manifest(k8s.deployment("api"), k8s.pdb("api", {"app": "ap"}, max_unavailable=1)))
    assert (f.workload, f.field, f.actual) == ("PodDisruptionBudget/api", "spec.selector", "app=ap selects nothing")


# -- Ingress ------------------------------------------------------------------------------------
def test_ingress_backend_service_missing(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("api"), _ingress([("/api", "apii", {"number": 80})]))
    [f] = _run(make_pair, m)
    assert (f.workload, f.field) == ("Ingress/web", "spec.rules[0].http.paths[0] (/api) backend service")
    assert (f.expected, f.actual) == ("Service apii in the render", "no Service apii")


@pytest.mark.parametrize(("port", "expected", "actual"), [
    ({"number": 81}, "port 81 of Service api", "Service api ports: 80"),
    ({"name": "https"}, "a port named https on Service api", "Service api port names: http"),
    ({}, "a port number or name of Service api", "no port"),
], ids=["number", "name", "none"])
def test_ingress_backend_port_missing(make_pair, k8s, manifest, port, expected, actual):
    d = k8s.deployment("api", containers=[_with_ports(k8s)])
    svc = _service("api", {"app": "api"}, [{"name": "http", "port": 80, "targetPort": "http"}])
    [f] = _run(make_pair, manifest(d, svc, _ingress([("/", "api", port)])))
    assert f.field.endswith("backend service port")
    assert (f.expected, f.actual) == (expected, actual)


def test_ingress_default_backend(make_pair, k8s, manifest):
    default = {"service": {"name": "fallback", "port": {"number": 80}}}
    [f] = _run(make_pair, manifest(k8s.deployment("api"), _ingress([], default=default)))
    assert (f.field, f.actual) == ("spec.defaultBackend backend service", "no Service fallback")


# -- pod references -----------------------------------------------------------------------------
def test_undeclared_secret_names_pod_kind_and_name(make_pair, k8s, manifest, text_of):
    d = k8s.deployment("api", containers=[k8s.container("api", env=[k8s.secret_env("DB_PASSWORD", "harness-db")])])
    [f] = _run(make_pair, manifest(d))
    assert (f.check, f.workload, f.field) == ("integrity", "Deployment/api", "env DB_PASSWORD secretKeyRef")
    assert f.expected == "Secret harness-db in the render or declared external"
    assert f.actual == "no Secret harness-db"
    assert "container api" in f.hint and "external-objects.yaml" in f.hint


@pytest.mark.parametrize(("pod_patch", "container_patch", "kind", "name", "field"), [
    ({"volumes": [{"name": "c", "configMap": {"name": "cm"}}]}, {}, "ConfigMap", "cm", "volume c configMap"),
    ({"volumes": [{"name": "s", "secret": {"secretName": "tls"}}]}, {}, "Secret", "tls", "volume s secret"),
    ({"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}, {},
     "PersistentVolumeClaim", "data", "volume d persistentVolumeClaim"),
    ({"volumes": [{"name": "p", "projected": {"sources": [{"secret": {"name": "ca"}}]}}]}, {},
     "Secret", "ca", "volume p projected secret"),
    ({"volumes": [{"name": "p", "projected": {"sources": [{"configMap": {"name": "cfg"}}]}}]}, {},
     "ConfigMap", "cfg", "volume p projected configMap"),
    ({}, {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "x"}}}]},
     "ConfigMap", "cm", "env X configMapKeyRef"),
    ({}, {"envFrom": [{"configMapRef": {"name": "cm"}}]}, "ConfigMap", "cm", "envFrom configMapRef"),
    ({}, {"envFrom": [{"secretRef": {"name": "sec"}}]}, "Secret", "sec", "envFrom secretRef"),
    ({"imagePullSecrets": [{"name": "regcred"}]}, {}, "Secret", "regcred", "imagePullSecrets[0]"),
    ({"serviceAccountName": "api-sa"}, {}, "ServiceAccount", "api-sa", "serviceAccountName"),
    ({"priorityClassName": "harness-high"}, {}, "PriorityClass", "harness-high", "priorityClassName"),
], ids=["volume-configmap", "volume-secret", "volume-pvc", "projected-secret", "projected-configmap",
        "env-configmap", "envfrom-configmap", "envfrom-secret", "image-pull-secret", "service-account",
        "priority-class"])
def test_missing_reference(make_pair, k8s, manifest, pod_patch, container_patch, kind, name, field):
    d = k8s.deployment("api", containers=[{**k8s.container("api"), **container_patch}])
    d["spec"]["template"]["spec"].update(pod_patch)
    [f] = _run(make_pair, manifest(d))
    assert (f.workload, f.field) == ("Deployment/api", field)
    assert f.expected == f"{kind} {name} in the render or declared external"
    assert f.actual == f"no {kind} {name}"


def test_init_container_and_cronjob_references(make_pair, k8s, manifest):
    job = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup"}, "spec": {
        "schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [k8s.container("wait", env=[k8s.secret_env("TOKEN", "token")])],
            "containers": [k8s.container("run")]}}}}}}
    [f] = _run(make_pair, manifest(job))
    assert (f.workload, f.field, f.hint.split(";")[0]) == ("CronJob/backup", "env TOKEN secretKeyRef", "container wait")


def test_optional_and_builtin_references_are_fine(make_pair, k8s, manifest):
    optional_env = {"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}}
    c = k8s.container("api", env=[optional_env],
                      env_from=[{"configMapRef": {"name": "cm", "optional": True}}])
    d = k8s.deployment("api", containers=[c])
    d["spec"]["template"]["spec"].update({
        "serviceAccountName": "default", "priorityClassName": "system-cluster-critical",
        "volumes": [{"name": "v", "secret": {"secretName": "maybe", "optional": True}}]})
    assert _run(make_pair, manifest(d)) == []


def test_missing_key_in_rendered_secret(make_pair, k8s, manifest, text_of):
    d = k8s.deployment("api", containers=[k8s.container("api", env=[k8s.secret_env("PW", "db", "password")])])
    [f] = _run(make_pair, manifest(d, _secret("db", "username")))
    assert (f.field, f.expected, f.actual) == ("env PW secretKeyRef", "key password in Secret db",
                                               "Secret db has no key password")
    assert "c2VjcmV0" not in text_of([f])


def test_missing_key_in_rendered_configmap(make_pair, k8s, manifest):
    env = [{"name": "URL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "url"}}}]
    d = k8s.deployment("api", containers=[k8s.container("api", env=env)])
    [f] = _run(make_pair, manifest(d, k8s.configmap("cfg", {"uri": "x"})))
    assert f.actual == "ConfigMap cfg has no key url"


def test_statefulset_claim_template_pvcs(make_pair, k8s, manifest):
    """``<template>-<statefulset>-<ordinal>`` claims exist once the StatefulSet runs; others do not."""
    sts = k8s.statefulset("mongo", claim="data")
    reader = k8s.deployment("backup", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data-mongo-0"}}])
    assert _run(make_pair, manifest(sts, reader)) == []
    wrong = k8s.deployment("backup", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data-mongo"}}])
    [f] = _run(make_pair, manifest(sts, wrong))
    assert f.actual == "no PersistentVolumeClaim data-mongo"


def test_reference_in_another_namespace_does_not_count(make_pair, k8s, manifest):
    secret = _secret("db", "pw")
    secret["metadata"]["namespace"] = "other"
    d = k8s.deployment("api", containers=[k8s.container("api", env=[k8s.secret_env("PW", "db", "pw")])])
    [f] = _run(make_pair, manifest(d, secret))
    assert f.actual == "no Secret db"


def test_empty_reference_name(make_pair, k8s, manifest):
    d = k8s.deployment("api", containers=[k8s.container("api", env=[k8s.secret_env("PW", "", "pw")])])
    [f] = _run(make_pair, manifest(d))
    assert (f.expected, f.actual) == ("the name of a Secret", "an empty name")


# -- declared external objects ------------------------------------------------------------------
def test_declared_external_by_pattern_and_values(make_pair, k8s, manifest):
    env = [k8s.secret_env("A", "harness-db"), k8s.secret_env("B", "tls-web"), k8s.secret_env("C", "minio")]
    d = k8s.deployment("api", containers=[k8s.container("api", env=env)])
    m = manifest(d)
    ext = External((ExternalEntry("Secret", "tls-*", "certificates made by cert-manager"),),
                   integrity.secrets_in_values({"global": {"database": {"mongo": {"secretName": "harness-db"}}}}))
    [f] = _run(make_pair, m, ext)
    assert f.actual == "no Secret minio"
    # A declared Secret is declared only as a Secret, not as a ConfigMap of that name.
    assert ext.declared("ConfigMap", "tls-web") is None
    assert ext.declared("Secret", "harness-db") == "named by values global.database.mongo.secretName"


def test_secrets_in_values_walks_maps_and_lists():
    values = {"global": {"database": {"mongo": {"secretName": "m"}, "redis": {"secretName": ""}}},
              "platform": {"bootstrap": {"minio": {"existingSecret": "harness-minio"}},
                           "extra": [{"tls": {"secretName": "t"}}]}}
    assert integrity.secrets_in_values(values) == {
        "m": "global.database.mongo.secretName",
        "harness-minio": "platform.bootstrap.minio.existingSecret",
        "t": "platform.extra[0].tls.secretName",
    }
    assert integrity.secrets_in_values(None) == {}


def test_load_external_file(tmp_path: Path):
    path = tmp_path / "external.yaml"
    path.write_text("Secret:\n  - name: harness-cert\n    reason: TLS certificate made by the installer\n")
    ext = load_external(path, {"x": {"existingSecret": "pre"}})
    assert ext.declared("Secret", "harness-cert") == "TLS certificate made by the installer"
    assert ext.declared("Secret", "pre") == "named by values x.existingSecret"
    assert ext.declared("Secret", "other") is None


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n", "the top level is a list"),
    ("Deployment: []\n", "unknown kind 'Deployment'"),
    ("Secret: {name: a}\n", "Secret is a dict, not a list"),
    ("Secret:\n  - name: a\n", "Secret entry #1 (a) has no 'reason'"),
    ("Secret:\n  - reason: r\n", "Secret entry #1 has no 'name'"),
    ("Secret:\n  - {name: a, reason: r, why: x}\n", "not a mapping with only 'name' and 'reason'"),
    ("Secret: [\n", "did not find expected node content at line 2, column 1). Fix the file"),
], ids=["list", "kind", "not-list", "no-reason", "no-name", "extra-key", "invalid-yaml"])
def test_load_external_rejects_malformed_files(tmp_path: Path, text, message):
    path = tmp_path / "external.yaml"
    path.write_text(text)
    with pytest.raises(ExternalObjectsError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_external(path, None)


def test_load_external_missing_file(tmp_path: Path):
    with pytest.raises(ExternalObjectsError, match="Cannot read the external-objects file"):
        load_external(tmp_path / "nope.yaml", None)


def test_repository_external_objects_file_loads():
    root = Path(__file__).resolve().parents[3]
    ext = load_external(root / "fixtures" / "external-objects.yaml", None)
    assert all(entry.reason for entry in ext.entries)


# -- duplicates ---------------------------------------------------------------------------------
def test_duplicate_objects(make_pair, k8s, manifest):
    m = manifest(k8s.configmap("cfg", {"a": "1"}), k8s.configmap("cfg", {"a": "2"}))
    [f] = _run(make_pair, m)
    assert (f.workload, f.field) == ("ConfigMap/cfg", "identity (apiVersion group, kind, namespace, name)")
    assert f.actual == "2 objects core/ConfigMap cfg in namespace harness"


def test_same_name_in_other_group_or_namespace_is_not_a_duplicate(make_pair, k8s, manifest):
    other_ns = k8s.configmap("cfg", {"a": "1"})
    other_ns["metadata"]["namespace"] = "other"
    custom = {"apiVersion": "example.com/v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
    assert _run(make_pair, manifest(k8s.configmap("cfg", {"a": "1"}), other_ns, custom)) == []


def test_duplicate_across_api_versions_of_one_group(make_pair, manifest):
    a = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
         "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}}}
    b = {**a, "apiVersion": "autoscaling/v2"}
    findings = _run(make_pair, manifest(a, b))
    assert [f.actual for f in findings if f.field.startswith("identity")] == [
        "2 objects autoscaling/HorizontalPodAutoscaler h in namespace harness"]
