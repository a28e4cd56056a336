"""Best-practice rules for rendered pods, the ones chart maintainers know from kube-linter.

Each rule is a pure function ``(spec, manifest) -> findings`` with a stable id, and the id is
the ``check`` of its findings, so an accepted exception is a waiver on that id (with a reason),
like every other finding. Resource requests and limits are not repeated here: the conformance
checks in :mod:`harness_refarch.checks.resources` own them.

Rules look at every workload's pod template (Deployments, StatefulSets, DaemonSets,
ReplicaSets, Jobs, CronJobs), found by kind, never by the names of the embedded chart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from harness_refarch.checks.registry import check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest, Workload

Rule = Callable[[Pair, Manifest], list[Finding]]

# Controllers whose pods run until replaced: their main containers need probes.
LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _containers(w: Workload, *, init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, raw container) for the pod's containers, init containers first when wanted."""
    sections = ("initContainers", "containers") if init else ("containers",)
    for section in sections:
        for raw in w.pod_spec.get(section) or []:
            suffix = " (init)" if section == "initContainers" else ""
            yield f"container {raw.get('name', '')}{suffix}", raw


def split_image(image: str) -> tuple[str, str, str]:
    """``(repository, tag, digest)`` of an image reference; a registry port is not a tag."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1:], digest
    return rest, "", digest


def image_tag_pinned(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Every image names a tag or a digest, never ``latest`` or nothing: otherwise two nodes (or
    two installs of the same chart version) can run different code."""
    rule = "image-tag-pinned"
    out = []
    for w in manifest.workloads.values():
        for where, raw in _containers(w):
            image = str(raw.get("image") or "").strip()
            if not image:
                out.append(Finding(rule, w.key, f"{where} image", "an image with a tag or digest",
                                   "no image"))
                continue
            _, tag, digest = split_image(image)
            if digest:
                continue
            if not tag:
                out.append(Finding(rule, w.key, f"{where} image", "a tag or digest", f"{image} (no tag: "
                                   "pulls latest)", "pin the image to a release tag or a sha256 digest"))
            elif tag == "latest":
                out.append(Finding(rule, w.key, f"{where} image", "a tag or digest other than latest",
                                   image, "pin the image to a release tag or a sha256 digest"))
    return out


def probes(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Long-running main containers have a readiness probe (no traffic before they are ready) and
    a liveness probe (a hung process is restarted). Jobs and init containers finish: exempt."""
    rule = "probes"
    out = []
    for w in manifest.workloads.values():
        if w.kind not in LONG_RUNNING:
            continue
        for where, raw in _containers(w, init=False):
            for probe in ("readinessProbe", "livenessProbe"):
                if not raw.get(probe):
                    out.append(Finding(rule, w.key, f"{where} {probe}", "set", "missing"))
    return out


def no_privileged(spec: Pair, manifest: Manifest) -> list[Finding]:
    """No container runs privileged: a privileged container is root on the node."""
    rule = "no-privileged"
    out = []
    for w in manifest.workloads.values():
        for where, raw in _containers(w):
            if (raw.get("securityContext") or {}).get("privileged") is True:
                out.append(Finding(rule, w.key, f"{where} securityContext.privileged", "false or unset",
                                   "true", "a privileged container has full access to the node"))
    return out


def no_host_namespaces(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Pods do not share the node's network, PID or IPC namespace."""
    rule = "no-host-namespaces"
    out = []
    for w in manifest.workloads.values():
        for key in HOST_NAMESPACES:
            if w.pod_spec.get(key) is True:
                out.append(Finding(rule, w.key, f"spec.{key}", "false or unset", "true",
                                   "the pod shares the node's namespace and sees other pods' traffic or processes"))
    return out


def _text(value: Any, unset: str) -> str:
    """A securityContext value as written in YAML (``false``, not Python's ``False``)."""
    if value is None:
        return unset
    return str(value).lower() if isinstance(value, bool) else str(value)


def run_as_non_root(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Where the chart sets a securityContext (pod or container level), the container cannot run
    as root: runAsNonRoot true or a runAsUser other than 0. Pods without any securityContext are
    left to the cluster's admission policy (the image decides), so the rule does not guess."""
    rule = "run-as-non-root"
    out = []
    for w in manifest.workloads.values():
        pod_sc = w.pod_spec.get("securityContext") or {}
        for where, raw in _containers(w):
            sc = raw.get("securityContext") or {}
            if not pod_sc and not sc:
                continue
            non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            user = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if non_root is True and user == 0:
                out.append(Finding(rule, w.key, f"{where} securityContext.runAsUser",
                                   "a non-zero user (runAsNonRoot is true)", "0",
                                   "the kubelet refuses to start this container"))
            elif non_root is not True and (user is None or user == 0):
                actual = (f"runAsNonRoot {_text(non_root, 'unset')}, "
                          f"runAsUser {_text(user, 'unset (the image decides)')}")
                out.append(Finding(rule, w.key, f"{where} securityContext",
                                   "runAsNonRoot: true or runAsUser other than 0", actual))
    return out


RULES: dict[str, Rule] = {
    "image-tag-pinned": image_tag_pinned,
    "probes": probes,
    "no-privileged": no_privileged,
    "no-host-namespaces": no_host_namespaces,
    "run-as-non-root": run_as_non_root,
}


@check("best_practices", findings=tuple(RULES),
       doc="Pinned images, probes, no privileged containers or host namespaces, non-root where a securityContext "
           "is set; each finding's check is the rule id (waivable by id).")
def practices(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Every rule's findings for one render; each finding's check is its rule id."""
    return [finding for rule in RULES.values() for finding in rule(spec, manifest)]
