"""Connection strings of a render: found by URL scheme in ConfigMap data and literal env values,
attributed to a database by where their hosts resolve (the rendered Services and StatefulSet
pods of that database, or its configured external hosts), then by scheme and key name. The
wiring check judges them; the render store masks the credentials they hold; diff compares them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from harness_refarch.model import uris
from harness_refarch.model.catalog import DatabaseExpectation
from harness_refarch.model.manifest import Container, Manifest, Workload
from harness_refarch.model.uris import ConnectionString

SCHEMES = uris.SCHEMES
# Keys whose role is to hold a secret. A user name is not one (``TIMESCALEDB_USERNAME: postgres``
# identifies an account; the password next to it is what must come from a Secret), so a
# ``*_USER``/``*_USERNAME`` key is never judged a literal credential, whatever its value.
CREDENTIAL_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|ACCESS_KEY)$", re.IGNORECASE)
# Values that are settings, not secrets, even under a credential-like name (USE_PASSWORD: "no").
_NOT_A_CREDENTIAL = {"", "no", "false", "true", "yes", "0", "1", "on", "off", "y", "n"}
HOST_LIST_NAME = re.compile(r"(^|_)(HOSTS?|HOSTNAMES?|HOST_?LIST|ADDRESS(ES)?|ENDPOINTS?)$", re.IGNORECASE)
# A setting that says where to connect (``MONGO_URI: mongodb://`` with no host is still a client's).
CONNECTION_KEY = re.compile(r"(URI|URL|HOSTS?|CONN(ECTION)?(_?STR(ING)?)?)$", re.IGNORECASE)
DB_LABELS = {"mongo": ("mongodb", "mongo"), "postgres": ("postgresql", "postgres"),
             "redis": ("redis",), "timescaledb": ("timescaledb", "timescale")}
# Which databases a scheme family can be, in the order a remaining tie is broken.
_FAMILY_DBS = {"mongo": ("mongo",), "redis": ("redis",), "postgres": ("postgres", "timescaledb")}
KEY_WORDS = {"mongo": re.compile(r"MONGO", re.I), "redis": re.compile(r"REDIS", re.I),
              "timescaledb": re.compile(r"TIMESCALE|TSDB", re.I),
              "postgres": re.compile(r"POSTGRES|(^|_)PG(_|$)", re.I)}
KEY_ORDER = ("timescaledb", "postgres", "mongo", "redis")  # most specific name first
TLS_EXPECTED = "on (mongodb+srv, rediss://, tls=true, ssl=true or sslmode=require)"


def classify(scheme: str, key: str) -> str:
    """The database a scheme and key name suggest: the last resort when no host resolves."""
    return _by_key(_FAMILY_DBS[uris.FAMILY.get(scheme.lower(), "postgres")], key)


def _by_key(candidates: Iterable[str], key: str) -> str:
    pool = list(candidates)
    return next((db for db in KEY_ORDER if db in pool and KEY_WORDS[db].search(key)), pool[0])


def effective_family(uri: ConnectionString) -> str:
    return uris.FAMILY[uri.inner_scheme or uri.scheme]


def attribute(uri: ConnectionString, db_hosts: Mapping[str, set[str]]) -> str:
    """Which database ``uri`` belongs to: where its hosts resolve, then scheme, then key name."""
    candidates = _FAMILY_DBS[effective_family(uri)]
    names = {host_port(h)[0] for h in uri.hosts}
    by_host = [db for db in candidates if names & db_hosts.get(db, set())]
    if len(by_host) == 1:
        return by_host[0]
    return _by_key(by_host or candidates, uri.key)


def parse_uris(value: str, key: str, location: str,
               consumers: tuple[tuple[Workload, Container], ...] = ()) -> Iterator[ConnectionString]:
    """The connection strings in one value, attributed by scheme and key name only."""
    for uri in uris.find(value, location=location, key=key, consumers=consumers):
        yield replace(uri, db=classify(uri.inner_scheme or uri.scheme, key))


def _consumers(manifest: Manifest) -> dict[str, list[tuple[Workload, Container]]]:
    by_cm: dict[str, list[tuple[Workload, Container]]] = {}
    for w in manifest.workloads.values():
        for c in w.containers:
            for var in c.env.values():
                if var.source == "configMap" and var.ref:
                    cm = var.ref.split(":", 1)[0].split("/", 1)[1]
                    if (w, c) not in by_cm.setdefault(cm, []):
                        by_cm[cm].append((w, c))
    return by_cm


_SSL_KEY = {"timescaledb": re.compile(r"(TIMESCALE|TSDB)\w*SSL", re.IGNORECASE),
            "postgres": re.compile(r"(POSTGRES|PG)\w*SSL", re.IGNORECASE)}
_SSL_ON = {"require", "verify-ca", "verify-full", "true"}


def _with_tls_setting(uri: ConnectionString, settings: Mapping[str, object]) -> ConnectionString:
    """Mark a PostgreSQL/TimescaleDB URI whose TLS is set by a neighbouring key instead."""
    pattern = _SSL_KEY.get(uri.db)
    on = pattern is not None and any(
        pattern.search(k) and str(v).strip().lower() in _SSL_ON for k, v in settings.items())
    return replace(uri, tls_setting=True) if on else uri


def _sources(manifest: Manifest) -> Iterator[tuple[str, str, str, tuple[tuple[Workload, Container], ...],
                                                   Mapping[str, object]]]:
    """(key, value, location, consumers, sibling settings) of every ConfigMap key and literal env var."""
    consumers = _consumers(manifest)
    for cm in manifest.of_kind("ConfigMap"):
        data = cm.body.get("data") or {}
        users = tuple(consumers.get(cm.name, ()))
        for key, value in data.items():
            if isinstance(value, str):
                yield key, value, f"ConfigMap/{cm.name}:{key}", users, data
    for w in manifest.workloads.values():
        for c in w.containers:
            settings = {name: var.value for name, var in c.env.items()}
            for var in c.env.values():
                if var.source == "value" and var.value is not None:
                    yield var.name, var.value, f"{w.key} container {c.name} env {var.name}", ((w, c),), settings


def _pods(w: Workload) -> list[Mapping[str, str]]:
    """Labels of each pod; StatefulSet pods also carry the labels the controller adds."""
    if w.kind != "StatefulSet":
        return [w.pod_labels]
    return [{**w.pod_labels, "statefulset.kubernetes.io/pod-name": f"{w.name}-{i}",
             "apps.kubernetes.io/pod-index": str(i)} for i in range(max(w.replicas or 0, 1))]


def _dns_names(base: str, ns: str) -> set[str]:
    return {base, f"{base}.{ns}", f"{base}.{ns}.svc", f"{base}.{ns}.svc.cluster.local"}


def database_hosts(manifest: Manifest, databases: Mapping[str, DatabaseExpectation] | None = None
                   ) -> dict[str, set[str]]:
    """Host names (lower case, no port) that belong to each database.

    In-cluster: Services whose selector picks the pods of the database's workloads, and the
    StatefulSet pods' own DNS names. External: the configured hosts of that database.
    """
    ns = manifest.namespace
    services = [s for s in manifest.of_kind("Service") if (s.namespace or ns) == ns]
    out: dict[str, set[str]] = {}
    for db in DB_LABELS:
        names = out.setdefault(db, set())
        for w in in_cluster_workloads(manifest, db):
            pods = _pods(w)
            for svc in services:
                selector = svc.spec.get("selector") or {}
                if selector and any(all(p.get(k) == v for k, v in selector.items()) for p in pods):
                    names |= _dns_names(svc.name, ns)
            governing = w.obj.spec.get("serviceName")
            if w.kind == "StatefulSet" and governing:
                for i in range(w.replicas or 0):
                    names |= _dns_names(f"{w.name}-{i}.{governing}", ns)
        expectation = (databases or {}).get(db)
        if expectation is not None:
            names |= {host_port(h)[0] for h in expectation.hosts}
    return out


def connection_strings(manifest: Manifest, databases: Mapping[str, DatabaseExpectation] | None = None
                       ) -> list[ConnectionString]:
    """Every connection string of the render, attributed to its database (see :func:`attribute`)."""
    db_hosts = database_hosts(manifest, databases)
    out: list[ConnectionString] = []
    for key, value, location, users, settings in _sources(manifest):
        for uri in uris.find(value, location=location, key=key, consumers=users):
            out.append(_with_tls_setting(replace(uri, db=attribute(uri, db_hosts)), settings))
    return out


def host_port(host: str) -> tuple[str, str]:
    host = host.split("://", 1)[-1].strip().lower()
    if host.startswith("["):
        name, _, port = host[1:].partition("]")
        return name, port.lstrip(":")
    name, _, port = host.partition(":")
    return name, port


def resolvable_hosts(manifest: Manifest) -> set[str]:
    """DNS names that rendered Services and StatefulSet pods answer to in the release namespace."""
    ns = manifest.namespace
    names: set[str] = set()
    services = {s.name for s in manifest.of_kind("Service") if (s.namespace or ns) == ns}
    for svc in services:
        names |= _dns_names(svc, ns)
    for w in manifest.workloads.values():
        governing = w.obj.spec.get("serviceName")
        if w.kind == "StatefulSet" and governing in services and (w.obj.namespace or ns) == ns:
            for i in range(w.obj.spec.get("replicas", 1) or 0):
                names |= _dns_names(f"{w.name}-{i}.{governing}", ns)
    return names


def looks_like_credential(value: object) -> bool:
    """A value that could be a secret: not empty, not a boolean-like switch, not a ``$(VAR)``."""
    text = "" if value is None else str(value).strip()
    return text.lower() not in _NOT_A_CREDENTIAL and not uris.is_var_ref(text)


def in_cluster_workloads(manifest: Manifest, db: str) -> list[Workload]:
    words = DB_LABELS[db]
    found = []
    for w in manifest.workloads.values():
        name = str(w.pod_labels.get("app.kubernetes.io/name", "")).lower()
        images = [c.image.split("/")[-1].split(":")[0].lower() for c in w.main_containers]
        if name in words or any(img in words or img.endswith(tuple(f"-{x}" for x in words)) for img in images):
            if w.kind in ("StatefulSet", "Deployment"):
                found.append(w)
    return found
