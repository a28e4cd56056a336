"""Disaster recovery with a warm standby: same databases, no traffic, same workloads.

Workloads of the two sites are compared by a normalised identity, so a hook Job named with a
random suffix (``db-migrate-x7k2p`` on the primary, ``db-migrate-9fz3q`` on the standby) is
the same Job. Findings that share one root cause (every connection string of a site lacking
TLS because one external host has none) are reported once, with the count and the places.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness_refarch.catalog import Pair
from harness_refarch.checks.determinism import dr_generated_secrets
from harness_refarch.checks.wiring import ConnectionString, collapse, connection_strings, mask_finding, tls_findings
from harness_refarch.findings import Finding
from harness_refarch.identity import Volatility, object_identity
from harness_refarch.manifest import Manifest

CHECK = "dr"
ROUTE_KINDS = ("Ingress", "HTTPRoute", "GRPCRoute", "TLSRoute", "Route", "VirtualService", "Gateway")

def identity(obj_key: str, volatility: Volatility | None = None) -> str:
    """The identity under which the two sites' objects are compared: helm-generated name parts
    removed (``Job/db-migrate-x7k2p`` -> ``Job/db-migrate-*``), by shape and, with
    ``volatility``, by what two renders of identical inputs showed to be random."""
    if volatility is not None:
        return volatility.normalise(obj_key)
    kind, _, name = obj_key.partition("/")
    return object_identity(kind, name)


def _db_hosts(uris: list[ConnectionString]) -> dict[str, set[str]]:
    hosts: dict[str, set[str]] = {}
    for uri in uris:
        hosts.setdefault(uri.db, set()).update(h.lower() for h in uri.hosts)
    return hosts


def _by_identity(keys: Iterable[str], volatility: Volatility | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in sorted(keys):
        out.setdefault(identity(key, volatility), []).append(key)
    return out


def warm_standby(spec: Pair, primary: Manifest, standby: Manifest,
                 volatility: Volatility | None = None) -> list[Finding]:
    """The standby shares the primary's external databases over TLS, takes no traffic, runs the
    same workloads, and shares the primary's Secrets (none generated anew at each render)."""
    out: list[Finding] = []
    databases = spec.architecture.databases
    uris = {"primary": connection_strings(primary, databases), "standby": connection_strings(standby, databases)}
    p_hosts, s_hosts = _db_hosts(uris["primary"]), _db_hosts(uris["standby"])
    for db in sorted(set(p_hosts) | set(s_hosts)):
        if p_hosts.get(db, set()) != s_hosts.get(db, set()):
            out.append(Finding(CHECK, f"{db} wiring", "standby database hosts",
                               f"the primary's: {', '.join(sorted(p_hosts.get(db, set()))) or 'none'}",
                               ", ".join(sorted(s_hosts.get(db, set()))) or "none"))
    off = [(f"{label} {u.location}", u) for label, found in uris.items() for u in found if not u.tls]
    out += tls_findings(off, expected="on", check=CHECK)
    for obj in standby.objects:
        if obj.kind in ROUTE_KINDS:
            out.append(Finding(CHECK, f"standby {obj.key}", "traffic entry point",
                               "none until the standby is activated (no concurrent writes)",
                               "rendered"))
    out = collapse(out)  # workloads below are each their own finding, named one by one
    p_work, s_work = _by_identity(primary.workloads, volatility), _by_identity(standby.workloads, volatility)
    missing = [key for ident in sorted(set(p_work) - set(s_work)) for key in p_work[ident]]
    extra = [key for ident in sorted(set(s_work) - set(p_work)) for key in s_work[ident]]
    for key in missing:
        out.append(Finding(CHECK, key, "workload on the standby", "present (as on the primary)", "missing"))
    for key in extra:
        out.append(Finding(CHECK, key, "workload on the standby", "absent (not on the primary)", "present"))
    if volatility is not None:
        out += dr_generated_secrets(volatility)
    return [mask_finding(f) for f in out]
