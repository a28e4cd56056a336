"""resources.container_resources, jvm_heap, demo_minimum (documented minimum), never_shrinks can fail."""

from __future__ import annotations

import pytest

from harness_refarch.checks import resources

WHERE = "Deployment/ng-manager container app"


# -- container_resources ---------------------------------------------------------------------
def test_container_resources_conformant(make_pair, k8s, manifest):
    init = k8s.container("wait-for-mongo", "busybox:1.36", cpu="10m", memory="16Mi", memory_limit="32Mi")
    dep = k8s.deployment("ng-manager", containers=[
        k8s.container(cpu=1, memory="1024Mi", cpu_limit=2, memory_limit="1Gi"),  # equal across units
        k8s.container("sidecar", cpu=0.25, memory="64Mi", memory_limit="128Mi")])
    dep["spec"]["template"]["spec"]["initContainers"] = [init]
    m = manifest(dep, k8s.statefulset("mongodb"))
    assert resources.container_resources(make_pair(), m) == []


@pytest.mark.parametrize(("dropped", "field"), [
    (("requests", "cpu"), "resources.requests.cpu"),
    (("requests", "memory"), "resources.requests.memory"),
    (("limits", "memory"), "resources.limits.memory"),
], ids=["cpu_request", "memory_request", "memory_limit"])
def test_container_resources_missing(make_pair, k8s, manifest, dropped, field):
    container = k8s.container(cpu="500m", memory="1Gi", cpu_limit="1", memory_limit="1Gi")
    del container["resources"][dropped[0]][dropped[1]]
    m = manifest(k8s.deployment("ng-manager", containers=[container]))
    [f] = resources.container_resources(make_pair(), m)
    assert f.check == "resources"
    assert f.workload == WHERE
    assert f.field == field
    assert (f.expected, f.actual) == ("set", "missing")


def test_container_resources_no_resources_at_all(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager", containers=[k8s.container(resources={})]))
    findings = resources.container_resources(make_pair(), m)
    assert sorted(f.field for f in findings) == [
        "resources.limits.memory", "resources.requests.cpu", "resources.requests.memory"]
    assert {f.workload for f in findings} == {WHERE}


def test_container_resources_init_container_named(make_pair, k8s, manifest):
    dep = k8s.deployment("ng-manager")
    dep["spec"]["template"]["spec"]["initContainers"] = [k8s.container("wait", "busybox:1.36", memory_limit=None)]
    [f] = resources.container_resources(make_pair(), manifest(dep))
    assert f.workload == "Deployment/ng-manager container wait (init)"
    assert f.field == "resources.limits.memory"


@pytest.mark.parametrize(("res", "req", "limit"), [
    ("memory", "2Gi", "1Gi"),
    ("memory", "1100Mi", "1Gi"),
    ("cpu", "2", "1"),
    ("cpu", "1500m", "1"),
], ids=["memory_2Gi_over_1Gi", "memory_across_units", "cpu_cores", "cpu_millicores"])
def test_container_resources_request_above_limit(make_pair, k8s, manifest, res, req, limit):
    kwargs = {"cpu": "100m", "memory": "512Mi", "cpu_limit": "4", "memory_limit": "4Gi"}
    kwargs.update({res: req, f"{res}_limit": limit})
    m = manifest(k8s.deployment("ng-manager", containers=[k8s.container(**kwargs)]))
    [f] = resources.container_resources(make_pair(), m)
    assert f.workload == WHERE
    assert f.field == f"resources.requests.{res}"
    assert f.expected == f"<= limit {limit}"
    assert f.actual == req


def test_container_resources_unparsable_quantity(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager", containers=[k8s.container(memory="lots", memory_limit="1Gi")]))
    [f] = resources.container_resources(make_pair(), m)
    assert f.workload == WHERE
    assert f.field == "resources.requests.memory"
    assert f.expected == "a Kubernetes quantity"
    assert "'lots'" in f.actual and "not a Kubernetes quantity" in f.actual


def test_container_resources_unparsable_request_without_limit(make_pair, k8s, manifest):
    m = manifest(k8s.deployment("ng-manager", containers=[k8s.container(cpu="one", cpu_limit=None)]))
    findings = resources.container_resources(make_pair(), m)
    assert any(f.workload == WHERE and "cpu" in f.field and "'one'" in f.actual for f in findings), findings


# -- jvm_heap --------------------------------------------------------------------------------
def _jvm(k8s, manifest, heap, limit, *, via="envFrom"):
    if via == "envFrom":
        container = k8s.container(memory="512Mi", memory_limit=limit,
                                  env_from=[{"configMapRef": {"name": "ng-manager"}}])
    elif via == "configMapKeyRef":
        container = k8s.container(memory="512Mi", memory_limit=limit, env=[
            {"name": "MEMORY", "valueFrom": {"configMapKeyRef": {"name": "ng-manager", "key": "MEMORY"}}}])
    else:
        container = k8s.container(memory="512Mi", memory_limit=limit, env=[{"name": "MEMORY", "value": heap}])
    return manifest(k8s.configmap("ng-manager", {"MEMORY": heap, "LOG_LEVEL": "INFO"}),
                    k8s.deployment("ng-manager", containers=[container]))


@pytest.mark.parametrize(("heap", "limit"), [
    ("1536", "2Gi"),    # exactly 75%: bare numbers are MiB
    ("1536m", "2Gi"),   # exactly 75%
    (768, "1Gi"),       # exactly 75%, an int in the ConfigMap
    ("1g", "2Gi"),
    ("-Xmx1024m", "2Gi"),
], ids=["bare_1536_at_75pct", "1536m_at_75pct", "int_768_at_75pct", "1g_of_2Gi", "xmx_flag"])
def test_jvm_heap_within_headroom(make_pair, k8s, manifest, heap, limit):
    assert resources.jvm_heap(make_pair(), _jvm(k8s, manifest, heap, limit)) == []


@pytest.mark.parametrize(("heap", "limit", "expected", "percent"), [
    ("2048m", "2Gi", "<= 75% of memory limit 2Gi (1.5Gi)", "100%"),
    ("1536", "1800Mi", "<= 75% of memory limit 1800Mi (1.318Gi)", "85%"),
    (768, "1000Mi", "<= 75% of memory limit 1000Mi (750Mi)", "77%"),
], ids=["2048m_of_2Gi", "bare_1536_of_1800Mi", "int_768_of_1000Mi"])
def test_jvm_heap_exceeds_headroom(make_pair, k8s, manifest, heap, limit, expected, percent):
    [f] = resources.jvm_heap(make_pair(), _jvm(k8s, manifest, heap, limit))
    assert f.workload == WHERE
    assert f.field == "MEMORY (configMap ConfigMap/ng-manager:MEMORY)"
    assert f.expected == expected
    assert f.actual == f"{heap} ({percent})"


@pytest.mark.parametrize("via", ["configMapKeyRef", "value"])
def test_jvm_heap_other_env_sources(make_pair, k8s, manifest, via):
    [f] = resources.jvm_heap(make_pair(), _jvm(k8s, manifest, "2048m", "2Gi", via=via))
    assert f.workload == WHERE
    assert f.field.startswith("MEMORY (")
    assert f.actual == "2048m (100%)"


def test_jvm_heap_env_overrides_env_from(make_pair, k8s, manifest):
    container = k8s.container(memory_limit="2Gi", env_from=[{"configMapRef": {"name": "ng-manager"}}],
                              env=[{"name": "MEMORY", "value": "1024m"}])
    m = manifest(k8s.configmap("ng-manager", {"MEMORY": "4096m"}), k8s.deployment("ng-manager", containers=[container]))
    assert resources.jvm_heap(make_pair(), m) == []


def test_jvm_heap_unparsable(make_pair, k8s, manifest):
    [f] = resources.jvm_heap(make_pair(), _jvm(k8s, manifest, "lots", "2Gi"))
    assert f.field == "MEMORY (configMap ConfigMap/ng-manager:MEMORY)"
    assert f.expected == "a JVM heap size"
    assert "'lots'" in f.actual


def test_jvm_heap_without_memory_limit(make_pair, k8s, manifest):
    [f] = resources.jvm_heap(make_pair(), _jvm(k8s, manifest, "2048m", None))
    assert f.workload == WHERE
    assert f.field == "resources.limits.memory"
    assert f.expected == "set and > 0 (JVM heap MEMORY=2048m)"
    assert f.actual == "missing"


def test_jvm_heap_unparsable_memory_limit_is_a_finding(make_pair, k8s, manifest):
    findings = resources.jvm_heap(make_pair(), _jvm(k8s, manifest, "1024m", "2GB"))
    assert any(f.workload == WHERE and "'2GB'" in f.actual for f in findings), findings


# -- demo_minimum: a profile's documented minimum --------------------------------------------
def _sized(k8s, manifest, *, replicas, cpu, memory, init_cpu=None):
    dep = k8s.deployment("ng-manager", replicas=replicas,
                         containers=[k8s.container(cpu=cpu, memory=memory, memory_limit=memory)])
    if init_cpu is not None:
        dep["spec"]["template"]["spec"]["initContainers"] = [k8s.container("migrate", cpu=init_cpu, memory="64Mi")]
    sts = k8s.statefulset("mongodb", replicas=1, containers=[k8s.container("mongodb", cpu="1", memory="4Gi")])
    return manifest(dep, sts)


def test_documented_minimum_fits(make_pair, k8s, manifest):
    m = _sized(k8s, manifest, replicas=2, cpu="500m", memory="1Gi")  # 2 cores, 6Gi in all
    assert resources.demo_minimum(make_pair(minimum_cpu=3, minimum_memory="14Gi"), m) == []


def test_documented_minimum_exactly_met(make_pair, k8s, manifest):
    m = _sized(k8s, manifest, replicas=2, cpu="1", memory="5Gi")  # 3 cores, 14Gi in all
    assert resources.demo_minimum(make_pair(minimum_cpu=3, minimum_memory="14Gi"), m) == []


def test_documented_minimum_cpu_exceeded(make_pair, k8s, manifest):
    m = _sized(k8s, manifest, replicas=3, cpu="1", memory="1Gi")  # 4 cores, 7Gi
    [f] = resources.demo_minimum(make_pair(minimum_cpu=3, minimum_memory="14Gi"), m)
    assert f.workload == "tiny profile (all workloads)"
    assert f.field == "CPU requested"
    assert f.expected == "<= 3 cores (documented minimum)"
    assert f.actual == "4 cores"


def test_documented_minimum_memory_exceeded(make_pair, k8s, manifest):
    m = _sized(k8s, manifest, replicas=2, cpu="500m", memory="6Gi")  # 2 cores, 16Gi
    [f] = resources.demo_minimum(make_pair(minimum_cpu=3, minimum_memory="14Gi"), m)
    assert f.workload == "tiny profile (all workloads)"
    assert f.field == "memory requested"
    assert f.expected == "<= 14Gi (documented minimum)"
    assert f.actual == "16Gi"


def test_documented_minimum_absent_means_no_limit(make_pair, k8s, manifest):
    m = _sized(k8s, manifest, replicas=50, cpu="4", memory="16Gi")
    assert resources.demo_minimum(make_pair(), m) == []


def test_documented_minimum_counts_init_container_peak(make_pair, k8s, manifest):
    m = _sized(k8s, manifest, replicas=1, cpu="500m", memory="1Gi", init_cpu="4")
    findings = resources.demo_minimum(make_pair(minimum_cpu=3, minimum_memory="14Gi"), m)
    assert [f.field for f in findings] == ["CPU requested"]


# -- never_shrinks ---------------------------------------------------------------------------
def _profile(k8s, manifest, *, replicas=1, cpu="1", memory="1Gi", storage="10Gi", mongo=True, hpa_min=None):
    docs = [k8s.deployment("ng-manager", replicas=replicas,
                           containers=[k8s.container(cpu=cpu, memory=memory, memory_limit=memory)])]
    if hpa_min is not None:
        docs.append(k8s.hpa("ng-manager", "ng-manager", min_replicas=hpa_min, max_replicas=10))
    if mongo:
        docs.append(k8s.statefulset("mongodb", replicas=3, storage=storage,
                                    containers=[k8s.container("mongodb", cpu="1", memory="2Gi")]))
    return manifest(*docs)


def test_never_shrinks_growing_chain(k8s, manifest):
    chain = [("first", _profile(k8s, manifest)),
             ("second", _profile(k8s, manifest, replicas=2, storage="20Gi")),
             ("third", _profile(k8s, manifest, replicas=2, cpu="2", memory="4Gi", storage="20Gi"))]
    assert resources.never_shrinks(chain) == []


def test_never_shrinks_replicas_times_requests_drop(k8s, manifest):
    """3 x 1 core -> 2 x 1 core shrinks CPU; 3 x 1Gi -> 2 x 1536Mi keeps memory equal."""
    chain = [("first", _profile(k8s, manifest, replicas=3, memory="1Gi")),
             ("second", _profile(k8s, manifest, replicas=2, memory="1536Mi"))]
    findings = resources.never_shrinks(chain)
    assert sorted(f.workload for f in findings) == ["Deployment/ng-manager", "total of common workloads"]
    f = next(f for f in findings if f.workload == "Deployment/ng-manager")
    assert f.check == "resources"
    assert f.field == "cpu requested (replicas x requests), first -> second"
    assert f.expected == ">= 3 cores (first)"
    assert f.actual == "2 cores (second)"


def test_never_shrinks_hpa_min_replicas_drop(k8s, manifest):
    chain = [("first", _profile(k8s, manifest, replicas=None, hpa_min=3)),
             ("second", _profile(k8s, manifest, replicas=None, hpa_min=2))]
    findings = resources.never_shrinks(chain)
    by_field = {f.field for f in findings if f.workload == "Deployment/ng-manager"}
    assert by_field == {"cpu requested (replicas x requests), first -> second",
                        "memory requested (replicas x requests), first -> second"}


def test_never_shrinks_storage(k8s, manifest):
    chain = [("first", _profile(k8s, manifest, storage="20Gi")),
             ("second", _profile(k8s, manifest, storage="10Gi"))]
    findings = resources.never_shrinks(chain)
    f = next(f for f in findings if f.workload == "StatefulSet/mongodb")
    assert f.field == "storage requested (replicas x requests), first -> second"
    assert f.expected == ">= 60Gi (first)"
    assert f.actual == "30Gi (second)"
    assert {f.workload for f in findings} == {"StatefulSet/mongodb", "total of common workloads"}


def test_never_shrinks_names_the_step(k8s, manifest):
    chain = [("first", _profile(k8s, manifest)),
             ("second", _profile(k8s, manifest, replicas=2)),
             ("third", _profile(k8s, manifest, replicas=1))]
    findings = resources.never_shrinks(chain)
    assert findings
    assert all(f.field.endswith("second -> third") for f in findings)


def test_never_shrinks_ignores_workload_only_in_first(k8s, manifest):
    """A database moved outside the cluster is neither a per-workload nor a total shrink."""
    chain = [("first", _profile(k8s, manifest, mongo=True)),
             ("second", _profile(k8s, manifest, mongo=False))]
    assert resources.never_shrinks(chain) == []


def test_never_shrinks_single_profile(k8s, manifest):
    assert resources.never_shrinks([("first", _profile(k8s, manifest))]) == []
