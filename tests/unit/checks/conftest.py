"""Helpers for the self-tests of the checks: tiny hand-written manifests and catalogue pairs.

Everything is exposed as fixtures (not imported from this module) so the tests work in any
pytest import mode next to the project's root conftest.py:

* ``make_pair(...)`` builds a :class:`~harness_refarch.model.catalog.Pair` without reading fixtures/.
* ``k8s`` is a namespace of builders returning Kubernetes objects as plain dicts.
* ``manifest(*docs)`` joins dicts and/or YAML strings into one stream and parses it with
  :func:`~harness_refarch.model.manifest.parse_manifest`, like ``helm template`` output.
* ``text_of(findings)`` is every string a finding can print, for "secret never shown" asserts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from harness_refarch.model.catalog import Architecture, DatabaseExpectation, Pair, Profile
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest, parse_manifest

NAMESPACE = "harness"


# -- catalogue -------------------------------------------------------------------------------
def _make_pair(*, ha: bool = True, backup: bool = True, dr: bool = False,
               databases: Mapping[str, DatabaseExpectation] | None = None,
               minimum_cpu: float | None = None, minimum_memory: str | None = None,
               profile: str = "tiny") -> Pair:
    dbs = dict(databases) if databases is not None else {}
    return Pair(
        Profile(profile, users=10, parallel_cd=1, parallel_ci=1,
                minimum_cpu=minimum_cpu, minimum_memory=minimum_memory),
        Architecture(name="unit", title="unit test architecture", profiles=(profile,), ha=ha,
                     backup=backup, dr=dr, databases=dbs, overlay=Path("x.yaml")),
    )


# -- Kubernetes object builders (plain dicts) -------------------------------------------------
def _container(name: str = "app", image: str = "harness/app:1.0.0", *, cpu: Any = "500m",
               memory: Any = "1Gi", cpu_limit: Any = None, memory_limit: Any = "1Gi",
               env: Iterable[Mapping[str, Any]] | None = None,
               env_from: Iterable[Mapping[str, Any]] | None = None,
               resources: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if resources is None:
        requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
        limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", memory_limit)) if v is not None}
        resources = {"requests": requests, "limits": limits}
    out: dict[str, Any] = {"name": name, "image": image, "resources": dict(resources)}
    if env is not None:
        out["env"] = list(env)
    if env_from is not None:
        out["envFrom"] = list(env_from)
    return out


def _anti_affinity(labels: Mapping[str, str], preferred: bool = False) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": "kubernetes.io/hostname"}
    if preferred:
        return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": term}]}}
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def _pod_template(labels: Mapping[str, str], containers: list[dict[str, Any]],
                  affinity: Mapping[str, Any] | None, spread: list[dict[str, Any]] | None,
                  volumes: list[dict[str, Any]] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers}
    if affinity is not None:
        spec["affinity"] = dict(affinity)
    if spread is not None:
        spec["topologySpreadConstraints"] = spread
    if volumes is not None:
        spec["volumes"] = volumes
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def _deployment(name: str, *, replicas: int | None = 2, labels: Mapping[str, str] | None = None,
                containers: list[dict[str, Any]] | None = None, affinity: Any = "default",
                spread: list[dict[str, Any]] | None = None,
                volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Deployment; by default 2 replicas, anti-affinity over its own pods, one container."""
    labels = dict(labels or {"app": name})
    if affinity == "default":
        affinity = _anti_affinity(labels)
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": _pod_template(labels, containers or [_container()], affinity, spread, volumes),
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def _statefulset(name: str, *, replicas: int | None = 3, image: str = "docker.io/bitnami/mongodb:6.0",
                 service_name: str | None = None, labels: Mapping[str, str] | None = None,
                 containers: list[dict[str, Any]] | None = None, storage: str | None = "10Gi",
                 claim: str = "data") -> dict[str, Any]:
    labels = dict(labels or {"app": name})
    spec: dict[str, Any] = {
        "serviceName": service_name or f"{name}-headless",
        "selector": {"matchLabels": labels},
        "template": _pod_template(labels, containers or [_container(name, image)], None, None, None),
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if storage is not None:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": claim}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec}


def _service(name: str, *, selector: Mapping[str, str] | None = None, headless: bool = False,
             port: int = 80) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": dict(selector or {"app": name}), "ports": [{"port": port}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def _hpa(name: str, target: str, *, min_replicas: int | None = 2, max_replicas: int | None = 5,
         kind: str = "Deployment") -> dict[str, Any]:
    spec: dict[str, Any] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    if max_replicas is not None:
        spec["maxReplicas"] = max_replicas
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name}, "spec": spec}


def _pdb(name: str, labels: Mapping[str, str], *, min_available: Any = None,
         max_unavailable: Any = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(labels)}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name}, "spec": spec}


def _configmap(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


def _secret_env(name: str, secret: str = "harness-secrets", key: str | None = None) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key or name.lower()}}}


# -- parsing ---------------------------------------------------------------------------------
def _manifest(*docs: Mapping[str, Any] | str, namespace: str = NAMESPACE) -> Manifest:
    parts = [d if isinstance(d, str) else yaml.safe_dump(dict(d), sort_keys=False) for d in docs]
    return parse_manifest("\n---\n".join(parts), namespace, source="unit test manifest")


def _text_of(findings: Iterable[Finding]) -> str:
    return "\n".join(f"{f.check} {f.workload} {f.field} {f.expected} {f.actual} {f.hint} {f}" for f in findings)


@pytest.fixture
def make_pair() -> Callable[..., Pair]:
    return _make_pair


@pytest.fixture
def k8s() -> SimpleNamespace:
    return SimpleNamespace(
        container=_container, anti_affinity=_anti_affinity, deployment=_deployment,
        statefulset=_statefulset, service=_service, hpa=_hpa, pdb=_pdb, configmap=_configmap,
        secret_env=_secret_env,
    )


@pytest.fixture
def manifest() -> Callable[..., Manifest]:
    return _manifest


@pytest.fixture
def text_of() -> Callable[[Iterable[Finding]], str]:
    return _text_of


@pytest.fixture(scope="session")
def renders() -> Iterable[list[tuple[str, Manifest]]]:
    """All 19 renders of the embedded chart (every profile, architecture and DR standby), with
    the real helm, rendered once for the checks' tests that run on the whole matrix."""
    from harness_refarch.engine.session import Options, RefarchSession
    from harness_refarch.helm.render import RenderCache

    repo = Path(__file__).resolve().parents[3]
    session = RefarchSession(Options(chart=repo / "charts" / "harness-prod", fixtures=repo / "fixtures",
                                     cache=False))
    requests = [r for p in session.pairs for r in session.requests_for(p, previous=False)]
    cache = RenderCache(session.helm, workers=2)
    try:
        cache.prefetch(requests)
        yield [(r.label or str(i), cache.get(r)) for i, r in enumerate(requests)]
    finally:
        cache.close()
        session.close()
