"""Database wiring: connection strings found by URL scheme, checked against the architecture.

Connection strings are collected from ConfigMap data and literal container env values (env
sourced from a ConfigMap is the ConfigMap's value, so it is read once, where it is defined).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl

from harness_refarch.catalog import Pair
from harness_refarch.findings import Finding
from harness_refarch.manifest import Container, Manifest, Workload

CHECK = "wiring"
SCHEMES = ("mongodb+srv", "mongodb", "rediss", "redis", "jdbc:postgresql", "postgresql", "postgres")
_URI = re.compile(r"(?<![\w+.-])(" + "|".join(re.escape(s) for s in SCHEMES) + r")://([^\s\"'<>;]*)")
_VAR_REF = re.compile(r"^\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)$")
_CREDENTIAL_NAME = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|ACCESS_KEY)$|"
    r"^(MONGO|MONGODB|REDIS|POSTGRES|POSTGRESQL|PG|TIMESCALE|TIMESCALEDB|DB)_?USER(NAME)?$",
    re.IGNORECASE)
_TLS_QUERY = {"tls": {"true"}, "ssl": {"true"}, "sslmode": {"require", "verify-ca", "verify-full"}}
_SECRET_PARAMS = ("password", "pwd", "passwd")
DB_LABELS = {"mongo": ("mongodb", "mongo"), "postgres": ("postgresql", "postgres"),
             "redis": ("redis",), "timescaledb": ("timescaledb", "timescale")}


@dataclass(frozen=True)
class ConnectionString:
    """One connection string and where it was found; ``text`` masks literal passwords."""

    db: str
    scheme: str
    userinfo: str | None
    hosts: tuple[str, ...]
    path: str
    query: tuple[tuple[str, str], ...]
    location: str  # e.g. "ConfigMap/ng-manager:MONGO_URI" or "Deployment/x container y env Z"
    consumers: tuple[tuple[Workload, Container], ...]
    tls_setting: bool = False  # TLS switched on by a sibling key, e.g. TIMESCALEDB_SSL_MODE: require

    @property
    def text(self) -> str:
        user = ""
        if self.userinfo is not None:
            name, _, password = self.userinfo.partition(":")
            shown = password if _VAR_REF.match(password or "$(x)") else "****"
            user = f"{name}:{shown}@" if password else f"{name}@"
        query = "&".join(f"{k}={_mask_param(k, v)}" for k, v in self.query)
        return f"{self.scheme}://{user}{','.join(self.hosts)}{self.path}" + (f"?{query}" if query else "")

    @property
    def params(self) -> dict[str, str]:
        return {k.lower(): v.lower() for k, v in self.query}

    @property
    def tls(self) -> bool:
        if self.scheme in ("mongodb+srv", "rediss") or self.tls_setting:
            return True
        return any(self.params.get(k) in ok for k, ok in _TLS_QUERY.items())


def _mask_param(key: str, value: str) -> str:
    if key.lower() in _SECRET_PARAMS and not _VAR_REF.match(value):
        return "****"
    return value


def classify(scheme: str, key: str) -> str:
    if scheme.startswith("mongodb"):
        return "mongo"
    if scheme.startswith("redis"):
        return "redis"
    return "timescaledb" if "TIMESCALE" in key.upper() else "postgres"


def parse_uris(value: str, key: str, location: str,
               consumers: tuple[tuple[Workload, Container], ...] = ()) -> Iterator[ConnectionString]:
    for match in _URI.finditer(value):
        scheme, rest = match.group(1), match.group(2)
        rest, _, query = rest.partition("?")
        authority, slash, path = rest.partition("/")
        userinfo = None
        if "@" in authority:
            userinfo, _, authority = authority.rpartition("@")
        hosts = tuple(h for h in authority.split(",") if h)
        yield ConnectionString(
            db=classify(scheme, key), scheme=scheme, userinfo=userinfo, hosts=hosts,
            path=slash + path, query=tuple(parse_qsl(query, keep_blank_values=True)),
            location=location, consumers=consumers)


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


_SSL_KEY = {"timescaledb": re.compile(r"TIMESCALE\w*SSL", re.IGNORECASE),
            "postgres": re.compile(r"(POSTGRES|PG)\w*SSL", re.IGNORECASE)}
_SSL_ON = {"require", "verify-ca", "verify-full", "true"}


def _with_tls_settings(uris: list[ConnectionString], settings: Mapping[str, str | None]) -> list[ConnectionString]:
    """Mark PostgreSQL/TimescaleDB URIs whose TLS is set by a neighbouring key instead."""
    out = []
    for uri in uris:
        pattern = _SSL_KEY.get(uri.db)
        on = pattern is not None and any(
            pattern.search(k) and str(v).strip().lower() in _SSL_ON for k, v in settings.items())
        out.append(replace(uri, tls_setting=True) if on else uri)
    return out


def connection_strings(manifest: Manifest) -> list[ConnectionString]:
    out: list[ConnectionString] = []
    consumers = _consumers(manifest)
    for cm in manifest.of_kind("ConfigMap"):
        users = tuple(consumers.get(cm.name, ()))
        data = cm.body.get("data") or {}
        for key, value in data.items():
            if isinstance(value, str):
                out += _with_tls_settings(list(parse_uris(value, key, f"ConfigMap/{cm.name}:{key}", users)), data)
    for w in manifest.workloads.values():
        for c in w.containers:
            settings = {name: var.value for name, var in c.env.items()}
            for var in c.env.values():
                if var.source == "value" and var.value:
                    found = parse_uris(var.value, var.name, f"{w.key} container {c.name} env {var.name}", ((w, c),))
                    out += _with_tls_settings(list(found), settings)
    return out


def _host_port(host: str) -> tuple[str, str]:
    host = host.split("://", 1)[-1]
    name, _, port = host.partition(":")
    return name.lower(), port


def resolvable_hosts(manifest: Manifest) -> set[str]:
    """DNS names that rendered Services and StatefulSet pods answer to in the release namespace."""
    ns = manifest.namespace
    names: set[str] = set()

    def add(base: str) -> None:
        names.update({base, f"{base}.{ns}", f"{base}.{ns}.svc", f"{base}.{ns}.svc.cluster.local"})

    services = {s.name for s in manifest.of_kind("Service") if (s.namespace or ns) == ns}
    for svc in services:
        add(svc)
    for w in manifest.workloads.values():
        governing = w.obj.spec.get("serviceName")
        if w.kind == "StatefulSet" and governing in services and (w.obj.namespace or ns) == ns:
            for i in range(w.obj.spec.get("replicas", 1) or 0):
                add(f"{w.name}-{i}.{governing}")
    return names


def _credential_findings(uri: ConnectionString) -> list[Finding]:
    out: list[Finding] = []
    if uri.userinfo is not None:
        for part in filter(None, uri.userinfo.split(":", 1)):
            ref = _VAR_REF.match(part)
            if not ref:
                out.append(Finding(CHECK, uri.location, "credentials in connection string",
                                   "$(VAR) references to secretKeyRef env vars",
                                   f"literal credentials in {uri.text}"))
                break
            for w, c in uri.consumers:
                var = c.env.get(ref.group(1))
                if var is None or not var.from_secret:
                    got = "undefined" if var is None else var.describe()
                    out.append(Finding(CHECK, f"{w.key} container {c.name}", f"env {ref.group(1)}",
                                       "from a secretKeyRef", f"{got} (used in {uri.location})"))
    for key, _ in uri.query:
        if key.lower() in _SECRET_PARAMS:
            out.append(Finding(CHECK, uri.location, f"query parameter {key}",
                               "no credentials in the URI", f"literal credentials in {uri.text}"))
    return out


def _literal_credentials(manifest: Manifest) -> list[Finding]:
    out = []
    for cm in manifest.of_kind("ConfigMap"):
        for key, value in (cm.body.get("data") or {}).items():
            if _CREDENTIAL_NAME.search(key) and value not in (None, "") and not _VAR_REF.match(str(value)):
                out.append(Finding(CHECK, f"ConfigMap/{cm.name}", f"data.{key}",
                                   "credentials only through secretKeyRef", "a literal value (****)"))
    for w in manifest.workloads.values():
        for c in w.containers:
            for var in c.env.values():
                if (var.source == "value" and _CREDENTIAL_NAME.search(var.name) and var.value
                        and not _VAR_REF.match(var.value)):
                    out.append(Finding(CHECK, f"{w.key} container {c.name}", f"env {var.name}",
                                       "credentials only through secretKeyRef", "a literal value (****)"))
    return out


def _in_cluster_workloads(manifest: Manifest, db: str) -> list[Workload]:
    words = DB_LABELS[db]
    found = []
    for w in manifest.workloads.values():
        name = str(w.pod_labels.get("app.kubernetes.io/name", "")).lower()
        images = [c.image.split("/")[-1].split(":")[0].lower() for c in w.main_containers]
        if name in words or any(img in words or img.endswith(tuple(f"-{x}" for x in words)) for img in images):
            if w.kind in ("StatefulSet", "Deployment"):
                found.append(w)
    return found


def wiring(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Connection strings match the architecture: hosts, member counts, secrets and TLS."""
    out = _literal_credentials(manifest)
    uris = connection_strings(manifest)
    resolvable = resolvable_hosts(manifest)
    replica_sets: dict[str, list[str]] = {}
    for db_name, expectation in spec.architecture.databases.items():
        mine = [u for u in uris if u.db == db_name]
        if not mine:
            out.append(Finding(CHECK, f"{db_name} wiring", "connection strings",
                               "at least one", "none found in env or ConfigMaps"))
        workloads = _in_cluster_workloads(manifest, db_name)
        if expectation.in_cluster:
            members = [w for w in workloads if w.kind == "StatefulSet" and "arbiter" not in w.name]
            data_members = sum(w.replicas or 0 for w in members)
        elif workloads:
            out.append(Finding(CHECK, ", ".join(w.key for w in workloads), f"{db_name} in-cluster workload",
                               "none (external database configured)", "rendered"))
        for uri in mine:
            out += _credential_findings(uri)
            if not uri.hosts:
                out.append(Finding(CHECK, uri.location, f"{db_name} connection string",
                                   "a host", f"empty: {uri.text!r}"))
                continue
            if expectation.in_cluster:
                bad = [h for h in uri.hosts if _host_port(h)[0] not in resolvable]
                if bad:
                    out.append(Finding(CHECK, uri.location, f"{db_name} host(s) {', '.join(bad)}",
                                       f"a rendered Service or StatefulSet pod in namespace {manifest.namespace}",
                                       "no such Service or pod"))
                if db_name == "mongo":
                    if members and len(uri.hosts) != data_members:
                        out.append(Finding(CHECK, uri.location, "MongoDB hosts",
                                           f"{data_members} (one per replica-set member)", str(len(uri.hosts))))
                    rs_name = next((v for k, v in uri.query if k.lower() == "replicaset"), "<none>")
                    replica_sets.setdefault(rs_name, []).append(uri.location)
            else:
                want = sorted(_host_port(h) for h in expectation.hosts)
                got = sorted(_host_port(h) for h in uri.hosts)
                if want != got:
                    out.append(Finding(CHECK, uri.location, f"{db_name} hosts",
                                       ", ".join(f"{h}:{p}" if p else h for h, p in want) or "(none configured)",
                                       ", ".join(f"{h}:{p}" if p else h for h, p in got)))
            if expectation.tls and not uri.tls:
                out.append(Finding(CHECK, uri.location, f"{db_name} TLS",
                                   "on (mongodb+srv, rediss://, tls=true, ssl=true or sslmode=require)",
                                   f"off in {uri.text}"))
    if len(replica_sets) > 1:
        detail = "; ".join(f"{name}: {locs[0]} (+{len(locs) - 1})" for name, locs in sorted(replica_sets.items()))
        out.append(Finding(CHECK, "MongoDB", "replicaSet name", "one name everywhere", detail))
    return out
