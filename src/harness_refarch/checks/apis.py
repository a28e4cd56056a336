"""API lifecycle: rendered objects whose apiVersion the target Kubernetes has removed or deprecated.

A removed apiVersion fails ``helm install`` outright ("no matches for kind ... in version ...");
a deprecated one works today and breaks on a later cluster upgrade, so both are findings that name
the replacement. The table follows the Kubernetes "Deprecated API Migration Guide"
(https://kubernetes.io/docs/reference/using-api/deprecation-guide/) and, for deprecated-since
versions, the ``prerelease-lifecycle-gen`` tags of k8s.io/api (what the API server's deprecation
warnings report). APIs served by CRDs (CSI snapshots) are mapped to the Kubernetes release their
provider tied the change to, with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness_refarch.checks.registry import Context, check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest

CHECK = "api-lifecycle"


class ApiVersionError(RefarchError):
    """A Kubernetes version that cannot be compared."""


@dataclass(frozen=True)
class ApiLifecycle:
    """One (apiVersion, kind) on its way out. ``removed`` is None while no removal is scheduled."""

    api_version: str
    kind: str
    deprecated: tuple[int, int]
    removed: tuple[int, int] | None
    replacement: str  # the apiVersion to use instead, or what to do when there is none
    note: str = ""


def _v(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _entries(api_versions: str, kinds: str, deprecated: str, removed: str | None, replacement: str,
             note: str = "") -> list[ApiLifecycle]:
    return [ApiLifecycle(api, kind, _v(deprecated), _v(removed) if removed else None, replacement, note)
            for api in api_versions.split() for kind in kinds.split()]


_SNAPSHOT_NOTE = ("served by the external-snapshotter CRDs: v1 since v4.0 (Kubernetes 1.20), "
                  "v1beta1 no longer served since v6.0 (Kubernetes 1.24)")
_FLOWCONTROL = "FlowSchema PriorityLevelConfiguration"

API_LIFECYCLE: tuple[ApiLifecycle, ...] = tuple(
    # Removed in 1.16
    _entries("extensions/v1beta1", "Deployment DaemonSet ReplicaSet", "1.8", "1.16", "apps/v1")
    + _entries("apps/v1beta1", "Deployment StatefulSet ControllerRevision", "1.8", "1.16", "apps/v1")
    + _entries("apps/v1beta2", "Deployment StatefulSet DaemonSet ReplicaSet ControllerRevision", "1.9", "1.16",
               "apps/v1")
    + _entries("extensions/v1beta1", "NetworkPolicy", "1.9", "1.16", "networking.k8s.io/v1")
    + _entries("extensions/v1beta1", "PodSecurityPolicy", "1.11", "1.16", "policy/v1beta1",
               "PodSecurityPolicy itself is gone since 1.25: use Pod Security Admission")
    # Removed in 1.22
    + _entries("extensions/v1beta1", "Ingress", "1.14", "1.22", "networking.k8s.io/v1")
    + _entries("networking.k8s.io/v1beta1", "Ingress IngressClass", "1.19", "1.22", "networking.k8s.io/v1")
    + _entries("admissionregistration.k8s.io/v1beta1",
               "MutatingWebhookConfiguration ValidatingWebhookConfiguration", "1.16", "1.22",
               "admissionregistration.k8s.io/v1")
    + _entries("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "1.16", "1.22", "apiextensions.k8s.io/v1")
    + _entries("apiregistration.k8s.io/v1beta1", "APIService", "1.19", "1.22", "apiregistration.k8s.io/v1")
    + _entries("authentication.k8s.io/v1beta1", "TokenReview", "1.19", "1.22", "authentication.k8s.io/v1")
    + _entries("authorization.k8s.io/v1beta1",
               "LocalSubjectAccessReview SelfSubjectAccessReview SubjectAccessReview SelfSubjectRulesReview",
               "1.19", "1.22", "authorization.k8s.io/v1")
    + _entries("certificates.k8s.io/v1beta1", "CertificateSigningRequest", "1.19", "1.22", "certificates.k8s.io/v1")
    + _entries("coordination.k8s.io/v1beta1", "Lease", "1.19", "1.22", "coordination.k8s.io/v1")
    + _entries("rbac.authorization.k8s.io/v1beta1", "ClusterRole ClusterRoleBinding Role RoleBinding",
               "1.17", "1.22", "rbac.authorization.k8s.io/v1")
    + _entries("scheduling.k8s.io/v1beta1", "PriorityClass", "1.14", "1.22", "scheduling.k8s.io/v1")
    + _entries("storage.k8s.io/v1beta1", "CSIDriver CSINode StorageClass VolumeAttachment", "1.19", "1.22",
               "storage.k8s.io/v1")
    # Removed in 1.24 (CRD-served)
    + _entries("snapshot.storage.k8s.io/v1beta1", "VolumeSnapshot VolumeSnapshotClass VolumeSnapshotContent",
               "1.20", "1.24", "snapshot.storage.k8s.io/v1", _SNAPSHOT_NOTE)
    # Removed in 1.25
    + _entries("batch/v1beta1", "CronJob", "1.21", "1.25", "batch/v1")
    + _entries("discovery.k8s.io/v1beta1", "EndpointSlice", "1.21", "1.25", "discovery.k8s.io/v1")
    + _entries("events.k8s.io/v1beta1", "Event", "1.22", "1.25", "events.k8s.io/v1")
    + _entries("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.22", "1.25", "autoscaling/v2")
    + _entries("policy/v1beta1", "PodDisruptionBudget", "1.21", "1.25", "policy/v1")
    + _entries("policy/v1beta1", "PodSecurityPolicy", "1.21", "1.25",
               "Pod Security Admission (no API replacement)",
               "label the namespace with pod-security.kubernetes.io/enforce instead")
    + _entries("node.k8s.io/v1beta1", "RuntimeClass", "1.22", "1.25", "node.k8s.io/v1")
    # Removed in 1.26
    + _entries("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.23", "1.26", "autoscaling/v2")
    + _entries("flowcontrol.apiserver.k8s.io/v1beta1", _FLOWCONTROL, "1.23", "1.26",
               "flowcontrol.apiserver.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1 is served from 1.29; "
               "v1beta2 (1.23-1.28) or v1beta3 (1.26-1.31) before that")
    # Removed in 1.27
    + _entries("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.24", "1.27", "storage.k8s.io/v1")
    # Removed in 1.29
    + _entries("flowcontrol.apiserver.k8s.io/v1beta2", _FLOWCONTROL, "1.26", "1.29",
               "flowcontrol.apiserver.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1 is served from 1.29; "
               "v1beta3 (1.26-1.31) before that")
    # Removed in 1.32
    + _entries("flowcontrol.apiserver.k8s.io/v1beta3", _FLOWCONTROL, "1.29", "1.32",
               "flowcontrol.apiserver.k8s.io/v1")
    # Deprecated, still served, no removal scheduled
    + _entries("v1", "ComponentStatus", "1.19", None, "no replacement (query the components' health endpoints)")
    + _entries("v1", "Endpoints", "1.33", None, "discovery.k8s.io/v1 EndpointSlice")
)

_INDEX: dict[tuple[str, str], ApiLifecycle] = {(e.api_version, e.kind): e for e in API_LIFECYCLE}


def target_minor(kube_version: str) -> tuple[int, int]:
    """(major, minor) of a Kubernetes version such as ``1.29.0``, ``v1.30`` or ``1.27.3-gke.100``."""
    match = re.match(r"^v?(\d+)\.(\d+)", kube_version.strip())
    if not match:
        raise ApiVersionError(f"The Kubernetes version {kube_version!r} is not a version like 1.29.0. "
                              "Pass --cluster-version as MAJOR.MINOR[.PATCH].")
    return int(match.group(1)), int(match.group(2))


def _fmt(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def lifecycle_of(api_version: str, kind: str) -> ApiLifecycle | None:
    """The table entry for (apiVersion, kind), if that API is deprecated at some release."""
    return _INDEX.get((api_version, kind))


def deprecated_apis(manifest: Manifest, kube_version: str) -> list[Finding]:
    """A finding per object whose apiVersion ``kube_version`` no longer serves or has deprecated.

    Removed: "removed in X, use Y". Deprecated but served: "deprecated since X, removed in Z, use Y".
    APIs deprecated only in a later release than the target are not reported.
    """
    target = target_minor(kube_version)
    release = _fmt(target)
    out: list[Finding] = []
    for obj in manifest.objects:
        entry = _INDEX.get((obj.api_version, obj.kind))
        if entry is None or target < entry.deprecated:
            continue
        use = f"use {entry.replacement}"
        if entry.removed is not None and target >= entry.removed:
            actual = f"{obj.api_version} (removed in {_fmt(entry.removed)}, {use})"
            expected = f"{entry.replacement} (Kubernetes {release} no longer serves {obj.api_version} {obj.kind})"
        else:
            removal = f"removed in {_fmt(entry.removed)}" if entry.removed else "no removal scheduled"
            actual = f"{obj.api_version} (deprecated since {_fmt(entry.deprecated)}, {removal}, {use})"
            expected = f"{entry.replacement} (not deprecated in Kubernetes {release})"
        out.append(Finding(CHECK, obj.key, "apiVersion", expected, actual, hint=entry.note))
    return out


@check("api_versions_served", findings=(CHECK,), context=True,
       doc="No apiVersion the target Kubernetes deprecates or has removed; findings name the replacement.")
def api_versions_served(ctx: Context, spec: Pair, manifest: Manifest) -> list[Finding]:
    return deprecated_apis(manifest, ctx.options.kube_version)
