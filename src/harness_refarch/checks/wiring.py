"""Database wiring: connection strings found by URL scheme, checked against the architecture.

Connection strings are collected from ConfigMap data and literal container env values (env
sourced from a ConfigMap is the ConfigMap's value, so it is read once, where it is defined)
and parsed by :mod:`harness_refarch.uris`. Which database a string belongs to is decided by
where its hosts resolve (the rendered Services and StatefulSet pods of that database, or its
configured external hosts), then by scheme; the key name only breaks a remaining tie (a
``postgres://`` URL in a key named ``TIMESCALEDB_URI`` that resolves nowhere). Every finding
text goes through :func:`harness_refarch.redact.mask`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from harness_refarch import uris
from harness_refarch.catalog import DatabaseExpectation, Pair
from harness_refarch.findings import Finding, collapse, places
from harness_refarch.manifest import Container, Manifest, Workload
from harness_refarch.redact import mask
from harness_refarch.uris import ConnectionString

__all__ = ["DB_LABELS", "SCHEMES", "ConnectionString", "classify", "collapse", "connection_strings",
           "consumed", "database_hosts", "mask_finding", "parse_uris", "places", "resolvable_hosts", "tls_findings",
           "wiring"]

CHECK = "wiring"
SCHEMES = uris.SCHEMES
# Keys whose role is to hold a secret. A user name is not one (``TIMESCALEDB_USERNAME: postgres``
# identifies an account; the password next to it is what must come from a Secret), so a
# ``*_USER``/``*_USERNAME`` key is never judged a literal credential, whatever its value.
CREDENTIAL_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|ACCESS_KEY)$", re.IGNORECASE)
# Values that are settings, not secrets, even under a credential-like name (USE_PASSWORD: "no").
_NOT_A_CREDENTIAL = {"", "no", "false", "true", "yes", "0", "1", "on", "off", "y", "n"}
_HOST_LIST_NAME = re.compile(r"(^|_)(HOSTS?|HOSTNAMES?|HOST_?LIST|ADDRESS(ES)?|ENDPOINTS?)$", re.IGNORECASE)
# A setting that says where to connect (``MONGO_URI: mongodb://`` with no host is still a client's).
_CONNECTION_KEY = re.compile(r"(URI|URL|HOSTS?|CONN(ECTION)?(_?STR(ING)?)?)$", re.IGNORECASE)
DB_LABELS = {"mongo": ("mongodb", "mongo"), "postgres": ("postgresql", "postgres"),
             "redis": ("redis",), "timescaledb": ("timescaledb", "timescale")}
# Which databases a scheme family can be, in the order a remaining tie is broken.
_FAMILY_DBS = {"mongo": ("mongo",), "redis": ("redis",), "postgres": ("postgres", "timescaledb")}
_KEY_WORDS = {"mongo": re.compile(r"MONGO", re.I), "redis": re.compile(r"REDIS", re.I),
              "timescaledb": re.compile(r"TIMESCALE|TSDB", re.I),
              "postgres": re.compile(r"POSTGRES|(^|_)PG(_|$)", re.I)}
_KEY_ORDER = ("timescaledb", "postgres", "mongo", "redis")  # most specific name first
TLS_EXPECTED = "on (mongodb+srv, rediss://, tls=true, ssl=true or sslmode=require)"


def classify(scheme: str, key: str) -> str:
    """The database a scheme and key name suggest: the last resort when no host resolves."""
    return _by_key(_FAMILY_DBS[uris.FAMILY.get(scheme.lower(), "postgres")], key)


def _by_key(candidates: Iterable[str], key: str) -> str:
    pool = list(candidates)
    return next((db for db in _KEY_ORDER if db in pool and _KEY_WORDS[db].search(key)), pool[0])


def _effective_family(uri: ConnectionString) -> str:
    return uris.FAMILY[uri.inner_scheme or uri.scheme]


def attribute(uri: ConnectionString, db_hosts: Mapping[str, set[str]]) -> str:
    """Which database ``uri`` belongs to: where its hosts resolve, then scheme, then key name."""
    candidates = _FAMILY_DBS[_effective_family(uri)]
    names = {_host_port(h)[0] for h in uri.hosts}
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
        for w in _in_cluster_workloads(manifest, db):
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
            names |= {_host_port(h)[0] for h in expectation.hosts}
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


def _host_port(host: str) -> tuple[str, str]:
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


def _secret_parts(uri: ConnectionString) -> list[str]:
    """The parts of the userinfo that are secrets: the password, never the user name.

    ``user:password@`` has one secret, the password. A lone ``secret@`` is a password for Redis
    (clients send it as AUTH) and a user name for every other scheme.
    """
    user, sep, password = (uri.userinfo or "").partition(":")
    if sep:
        return [password]
    return [user] if _effective_family(uri) == "redis" else []


def _credential_findings(uri: ConnectionString) -> list[Finding]:
    out: list[Finding] = []
    if uri.userinfo is not None:
        for part in filter(None, _secret_parts(uri)):
            if not uris.is_var_ref(part):
                out.append(Finding(CHECK, uri.location, "credentials in connection string",
                                   "$(VAR) references to secretKeyRef env vars",
                                   f"literal credentials in {uri.text}"))
                break
            name = part[2:-1]
            for w, c in uri.consumers:
                var = c.env.get(name)
                if var is None or not var.from_secret:
                    got = "undefined" if var is None else var.describe()
                    out.append(Finding(CHECK, f"{w.key} container {c.name}", f"env {name}",
                                       "from a secretKeyRef", f"{got} (used in {uri.location})"))
    for key, value in uri.query:
        if value and uris.secret_name(key):
            out.append(Finding(CHECK, uri.location, f"query parameter {key}",
                               "no credentials in the URI", f"literal credentials in {uri.text}"))
    return out


def looks_like_credential(value: object) -> bool:
    """A value that could be a secret: not empty, not a boolean-like switch, not a ``$(VAR)``."""
    text = "" if value is None else str(value).strip()
    return text.lower() not in _NOT_A_CREDENTIAL and not uris.is_var_ref(text)


def _literal_credentials(manifest: Manifest) -> list[Finding]:
    out = []
    for cm in manifest.of_kind("ConfigMap"):
        for key, value in (cm.body.get("data") or {}).items():
            if CREDENTIAL_NAME.search(key) and looks_like_credential(value):
                out.append(Finding(CHECK, f"ConfigMap/{cm.name}", f"data.{key}",
                                   "credentials only through secretKeyRef", "a literal value (****)"))
    for w in manifest.workloads.values():
        for c in w.containers:
            for var in c.env.values():
                if var.source == "value" and CREDENTIAL_NAME.search(var.name) and looks_like_credential(var.value):
                    out.append(Finding(CHECK, f"{w.key} container {c.name}", f"env {var.name}",
                                       "credentials only through secretKeyRef", "a literal value (****)"))
    return out


def _settings(manifest: Manifest) -> Iterator[tuple[str, str | None, str]]:
    """(key, value, location) of every ConfigMap key and literal env var, empty ones included
    (``value:`` with nothing after it renders as null)."""
    for cm in manifest.of_kind("ConfigMap"):
        for key, value in (cm.body.get("data") or {}).items():
            yield str(key), None if value is None else str(value), f"ConfigMap/{cm.name}:{key}"
    for w in manifest.workloads.values():
        for c in w.containers:
            for var in c.env.values():
                if var.source == "value":
                    yield var.name, var.value, f"{w.key} container {c.name} env {var.name}"


def _empty_host_lists(manifest: Manifest, databases: Mapping[str, DatabaseExpectation]) -> list[Finding]:
    """``MONGODB_HOSTS:`` with no value (or ``""``, ``[]``): the client has nowhere to connect."""
    out = []
    for key, value, location in _settings(manifest):
        if not _HOST_LIST_NAME.search(key) or (value or "").strip(" \t\n,[]\"'"):
            continue
        db = next((d for d in _KEY_ORDER if _KEY_WORDS[d].search(key)), None)
        expectation = databases.get(db) if db else None
        if expectation is None or expectation.in_cluster:
            continue  # in-cluster clients get their hosts elsewhere; an unused external-hosts key is no gap
        want = ", ".join(expectation.hosts) or "the external hosts"
        out.append(Finding(CHECK, location, f"{db} host list", want,
                           "empty" if value is not None else "empty (the key renders with no value)",
                           f"the {db} clients read their hosts from {key}"))
    return out


def consumed(manifest: Manifest, found: Iterable[ConnectionString]) -> dict[str, str]:
    """The databases the render's workloads use, each with the evidence: a connection string
    attributed to it, or a setting named after it (``POSTGRES_USER``, ``TIMESCALEDB_PASSWORD``,
    read through env or envFrom) in a database client, a container that reads a connection
    string. A database server's own settings (Patroni's ``postgresdbAdminPassword`` in the
    TimescaleDB pods) are no evidence: the server holds no connection string."""
    found = list(found)
    out: dict[str, str] = {}
    for uri in found:
        out.setdefault(uri.db, uri.location)
    clients = {(w.key, c.name) for uri in found for w, c in uri.consumers}
    for w in manifest.workloads.values():
        for c in w.containers:
            client = (w.key, c.name) in clients
            for name in c.env:
                db = next((d for d in _KEY_ORDER if _KEY_WORDS[d].search(name)), None)
                if db is not None and (client or _CONNECTION_KEY.search(name)):
                    out.setdefault(db, f"{w.key} container {c.name} env {name}")
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


def mask_finding(f: Finding) -> Finding:
    """The finding with every text field passed through :func:`harness_refarch.redact.mask`."""
    return Finding(f.check, mask(f.workload), mask(f.field), mask(f.expected), mask(f.actual),
                   mask(f.hint), mask(f.source))


def tls_findings(uris_off: Iterable[tuple[str, ConnectionString]], expected: str = TLS_EXPECTED,
                 check: str = CHECK) -> list[Finding]:
    """One finding per database and host set without TLS: one root cause, however many strings.

    ``uris_off`` pairs each connection string with the place to name for it.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[str, ConnectionString]]] = {}
    for place, uri in uris_off:
        groups.setdefault((uri.db, tuple(sorted(_host_port(h)[0] for h in uri.hosts))), []).append((place, uri))
    out = []
    for (db, _), group in groups.items():
        first = group[0][1]
        others = len({u.text for _, u in group}) - 1
        actual = f"off in {first.text}"
        if others:
            actual += f" and {others} more connection string(s) to the same host(s)"
        out.append(Finding(check, places(p for p, _ in group), f"{db} TLS", expected, actual))
    return out


def _double_scheme_hint(uri: ConnectionString) -> str:
    return (f"a {uri.inner_scheme}:// host entry was prefixed with the chart's own {uri.scheme}://; "
            "give the hosts without a scheme (TLS is a separate setting)")


def wiring(spec: Pair, manifest: Manifest) -> list[Finding]:
    """Connection strings match the architecture: hosts, member counts, secrets and TLS."""
    databases = spec.architecture.databases
    out = _literal_credentials(manifest) + _empty_host_lists(manifest, databases)
    found = connection_strings(manifest, databases)
    used = consumed(manifest, found)
    resolvable = resolvable_hosts(manifest)
    replica_sets: dict[str, list[str]] = {}
    tls_off: list[tuple[str, ConnectionString]] = []
    for db_name, expectation in databases.items():
        mine = [u for u in found if u.db == db_name]
        if not mine and db_name in used:
            # expectations come from what the render consumes: no workload using PostgreSQL,
            # no PostgreSQL connection string expected
            out.append(Finding(CHECK, f"{db_name} wiring", "connection strings",
                               f"at least one (the render uses {db_name}: {used[db_name]})",
                               "none found in env or ConfigMaps"))
        workloads = _in_cluster_workloads(manifest, db_name)
        members: list[Workload] = []
        data_members = 0
        if expectation.in_cluster:
            members = [w for w in workloads if w.kind == "StatefulSet" and "arbiter" not in w.name]
            data_members = sum(w.replicas or 0 for w in members)
        elif workloads:
            out.append(Finding(CHECK, ", ".join(w.key for w in workloads), f"{db_name} in-cluster workload",
                               "none (external database configured)", "rendered"))
        for uri in mine:
            out += _credential_findings(uri)
            if uri.inner_scheme:
                out.append(Finding(CHECK, uri.location, f"{db_name} connection string", "one scheme",
                                   uri.problem, _double_scheme_hint(uri)))
                continue
            if uri.problem:
                out.append(Finding(CHECK, uri.location, f"{db_name} connection string",
                                   "a connection string its client can parse", uri.problem))
                continue
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
                    rs_name = next((v for k, v in (*uri.query, *uri.options) if k.lower() == "replicaset"),
                                   "<none>")
                    replica_sets.setdefault(rs_name, []).append(uri.location)
            else:
                want = sorted(_host_port(h) for h in expectation.hosts)
                got = sorted(_host_port(h) for h in uri.hosts)
                if want != got:
                    out.append(Finding(CHECK, uri.location, f"{db_name} hosts",
                                       ", ".join(f"{h}:{p}" if p else h for h, p in want) or "(none configured)",
                                       ", ".join(f"{h}:{p}" if p else h for h, p in got)))
            if expectation.tls and not uri.tls:
                tls_off.append((uri.location, uri))
    out += tls_findings(tls_off)
    if len(replica_sets) > 1:
        detail = "; ".join(f"{name}: {locs[0]} (+{len(locs) - 1})" for name, locs in sorted(replica_sets.items()))
        out.append(Finding(CHECK, "MongoDB", "replicaSet name", "one name everywhere", detail))
    return [mask_finding(f) for f in collapse(out)]
