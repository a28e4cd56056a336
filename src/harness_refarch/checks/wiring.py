"""Database wiring: connection strings found by URL scheme, checked against the architecture.

Connection strings are collected from ConfigMap data and literal container env values (env
sourced from a ConfigMap is the ConfigMap's value, so it is read once, where it is defined)
and parsed by :mod:`harness_refarch.model.uris`. Which database a string belongs to is decided by
where its hosts resolve (the rendered Services and StatefulSet pods of that database, or its
configured external hosts), then by scheme; the key name only breaks a remaining tie (a
``postgres://`` URL in a key named ``TIMESCALEDB_URI`` that resolves nowhere). Every finding
text goes through :func:`harness_refarch.model.redact.mask`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from harness_refarch.checks.registry import check
from harness_refarch.model import uris
from harness_refarch.model.catalog import DatabaseExpectation, Pair
from harness_refarch.model.connections import (
    CONNECTION_KEY,
    CREDENTIAL_NAME,
    DB_LABELS,
    HOST_LIST_NAME,
    KEY_ORDER,
    KEY_WORDS,
    SCHEMES,
    TLS_EXPECTED,
    classify,
    connection_strings,
    database_hosts,
    effective_family,
    host_port,
    in_cluster_workloads,
    looks_like_credential,
    parse_uris,
    resolvable_hosts,
)
from harness_refarch.model.findings import Finding, collapse, places
from harness_refarch.model.manifest import Manifest, Workload
from harness_refarch.model.redact import mask
from harness_refarch.model.uris import ConnectionString

__all__ = ["DB_LABELS", "SCHEMES", "ConnectionString", "classify", "collapse", "connection_strings",
           "consumed", "database_hosts", "mask_finding", "parse_uris", "places", "resolvable_hosts", "tls_findings",
           "wiring"]

CHECK = "wiring"


def _secret_parts(uri: ConnectionString) -> list[str]:
    """The parts of the userinfo that are secrets: the password, never the user name.

    ``user:password@`` has one secret, the password. A lone ``secret@`` is a password for Redis
    (clients send it as AUTH) and a user name for every other scheme.
    """
    user, sep, password = (uri.userinfo or "").partition(":")
    if sep:
        return [password]
    return [user] if effective_family(uri) == "redis" else []


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
        if not HOST_LIST_NAME.search(key) or (value or "").strip(" \t\n,[]\"'"):
            continue
        db = next((d for d in KEY_ORDER if KEY_WORDS[d].search(key)), None)
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
                db = next((d for d in KEY_ORDER if KEY_WORDS[d].search(name)), None)
                if db is not None and (client or CONNECTION_KEY.search(name)):
                    out.setdefault(db, f"{w.key} container {c.name} env {name}")
    return out




def mask_finding(f: Finding) -> Finding:
    """The finding with every text field passed through :func:`harness_refarch.model.redact.mask`."""
    return Finding(f.check, mask(f.workload), mask(f.field), mask(f.expected), mask(f.actual),
                   mask(f.hint), mask(f.source))


def tls_findings(uris_off: Iterable[tuple[str, ConnectionString]], expected: str = TLS_EXPECTED,
                 check: str = CHECK) -> list[Finding]:
    """One finding per database and host set without TLS: one root cause, however many strings.

    ``uris_off`` pairs each connection string with the place to name for it.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[str, ConnectionString]]] = {}
    for place, uri in uris_off:
        groups.setdefault((uri.db, tuple(sorted(host_port(h)[0] for h in uri.hosts))), []).append((place, uri))
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


@check("database_wiring", findings=(CHECK,), diff=True)
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
        workloads = in_cluster_workloads(manifest, db_name)
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
                bad = [h for h in uri.hosts if host_port(h)[0] not in resolvable]
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
                want = sorted(host_port(h) for h in expectation.hosts)
                got = sorted(host_port(h) for h in uri.hosts)
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
