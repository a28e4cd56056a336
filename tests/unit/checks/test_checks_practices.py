"""practices: every best-practice rule fails on a broken pod, with the rule id as the check."""

from __future__ import annotations

import pytest

from harness_refarch.checks import practices
from harness_refarch.checks.practices import RULES

PROBES = {"readinessProbe": {"httpGet": {"path": "/health", "port": 8080}},
          "livenessProbe": {"tcpSocket": {"port": 8080}}}


def _good_container(k8s, name="app", **extra):
    return {**k8s.container(name), **PROBES, "securityContext": {"runAsNonRoot": True}, **extra}


def _pod(k8s, *containers, kind="Deployment", **pod):
    d = k8s.deployment("api", containers=list(containers) or [_good_container(k8s)])
    d["kind"] = kind
    d["spec"]["template"]["spec"].update(pod)
    return d


def test_rule_ids_are_stable():
    assert list(RULES) == ["image-tag-pinned", "probes", "no-privileged", "no-host-namespaces", "run-as-non-root"]


def test_conformant_pod_passes_every_rule(make_pair, k8s, manifest):
    m = manifest(_pod(k8s, securityContext={"runAsUser": 1000}))
    assert practices.practices(make_pair(), m) == []


# -- image-tag-pinned ---------------------------------------------------------------------------
@pytest.mark.parametrize(("image", "expected", "actual"), [
    ("harness/app:latest", "a tag or digest other than latest", "harness/app:latest"),
    ("harness/app", "a tag or digest", "harness/app (no tag: pulls latest)"),
    ("registry.local:5000/harness/app", "a tag or digest", "registry.local:5000/harness/app (no tag: pulls latest)"),
    ("", "an image with a tag or digest", "no image"),
], ids=["latest", "no-tag", "registry-port-is-not-a-tag", "empty"])
def test_image_tag_pinned_fails(make_pair, k8s, manifest, image, expected, actual):
    m = manifest(_pod(k8s, _good_container(k8s, image=image)))
    [f] = practices.image_tag_pinned(make_pair(), m)
    assert (f.check, f.workload, f.field) == ("image-tag-pinned", "Deployment/api", "container app image")
    assert (f.expected, f.actual) == (expected, actual)


@pytest.mark.parametrize("image", ["harness/app:1.2.3", "registry.local:5000/app:1.0",
                                   "harness/app@sha256:" + "a" * 64, "harness/app:latest@sha256:" + "b" * 64])
def test_image_tag_pinned_passes(make_pair, k8s, manifest, image):
    assert practices.image_tag_pinned(make_pair(), manifest(_pod(k8s, _good_container(k8s, image=image)))) == []


def test_image_tag_pinned_checks_init_containers(make_pair, k8s, manifest):
    m = manifest(_pod(k8s, _good_container(k8s), initContainers=[k8s.container("wait", image="busybox")]))
    [f] = practices.image_tag_pinned(make_pair(), m)
    assert f.field == "container wait (init) image"


# -- probes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["readinessProbe", "livenessProbe"])
def test_probes_missing(make_pair, k8s, manifest, missing):
    c = _good_container(k8s)
    del c[missing]
    [f] = practices.probes(make_pair(), manifest(_pod(k8s, c, kind="StatefulSet")))
    assert (f.check, f.workload, f.field) == ("probes", "StatefulSet/api", f"container app {missing}")
    assert (f.expected, f.actual) == ("set", "missing")


def test_probes_not_required_for_jobs_and_init_containers(make_pair, k8s, manifest):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
           "spec": {"template": {"spec": {"containers": [k8s.container("migrate")]}}}}
    pod = _pod(k8s, initContainers=[k8s.container("wait")])
    assert practices.probes(make_pair(), manifest(job, pod)) == []


# -- no-privileged ------------------------------------------------------------------------------
def test_privileged_container(make_pair, k8s, manifest):
    init = {**k8s.container("sysctl"), "securityContext": {"privileged": True}}
    [f] = practices.no_privileged(make_pair(), manifest(_pod(k8s, _good_container(k8s), initContainers=[init])))
    assert (f.check, f.workload, f.field) == ("no-privileged", "Deployment/api",
                                              "container sysctl (init) securityContext.privileged")
    assert (f.expected, f.actual) == ("false or unset", "true")


# -- no-host-namespaces -------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces(make_pair, k8s, manifest, key):
    [f] = practices.no_host_namespaces(make_pair(), manifest(_pod(k8s, kind="DaemonSet", **{key: True})))
    assert (f.check, f.workload, f.field, f.actual) == ("no-host-namespaces", "DaemonSet/api", f"spec.{key}", "true")


def test_host_namespaces_false_is_fine(make_pair, k8s, manifest):
    assert practices.no_host_namespaces(make_pair(), manifest(_pod(k8s, hostNetwork=False))) == []


# -- run-as-non-root ----------------------------------------------------------------------------
@pytest.mark.parametrize(("pod_sc", "container_sc", "field", "actual"), [
    ({"fsGroup": 1000}, None, "container app securityContext",
     "runAsNonRoot unset, runAsUser unset (the image decides)"),
    (None, {"runAsUser": 0}, "container app securityContext", "runAsNonRoot unset, runAsUser 0"),
    ({"runAsNonRoot": True}, {"runAsNonRoot": False}, "container app securityContext",
     "runAsNonRoot false, runAsUser unset (the image decides)"),
    ({"runAsNonRoot": True, "runAsUser": 0}, None, "container app securityContext.runAsUser", "0"),
], ids=["pod-context-without-user", "container-root", "container-overrides-pod", "contradiction"])
def test_run_as_non_root_fails(make_pair, k8s, manifest, pod_sc, container_sc, field, actual):
    c = {**k8s.container(), **PROBES}
    if container_sc is not None:
        c["securityContext"] = container_sc
    pod = {"securityContext": pod_sc} if pod_sc is not None else {}
    [f] = practices.run_as_non_root(make_pair(), manifest(_pod(k8s, c, **pod)))
    assert (f.check, f.workload, f.field, f.actual) == ("run-as-non-root", "Deployment/api", field, actual)


@pytest.mark.parametrize(("pod_sc", "container_sc"), [
    (None, None),  # the chart sets no securityContext: the rule does not apply
    ({"runAsUser": 1000}, None),
    ({"runAsNonRoot": True}, {"readOnlyRootFilesystem": True}),
    ({"runAsUser": 0}, {"runAsUser": 999}),
], ids=["no-context", "pod-user", "pod-non-root", "container-overrides-root"])
def test_run_as_non_root_passes(make_pair, k8s, manifest, pod_sc, container_sc):
    c = {**k8s.container(), **PROBES}
    if container_sc is not None:
        c["securityContext"] = container_sc
    pod = {"securityContext": pod_sc} if pod_sc is not None else {}
    assert practices.run_as_non_root(make_pair(), manifest(_pod(k8s, c, **pod))) == []


def test_practices_runs_every_rule(make_pair, k8s, manifest):
    bad = {**k8s.container(image="x:latest"), "securityContext": {"privileged": True}}
    checks = {f.check for f in practices.practices(make_pair(), manifest(_pod(k8s, bad, hostPID=True)))}
    assert checks == set(RULES)


def test_split_image():
    assert practices.split_image("r:5000/a/b:1@sha256:x") == ("r:5000/a/b", "1", "sha256:x")
    assert practices.split_image("a/b") == ("a/b", "", "")
