"""Disaster recovery with a warm standby: same databases, no traffic, same workloads."""

from __future__ import annotations

from harness_refarch.catalog import Pair
from harness_refarch.checks.wiring import ConnectionString, connection_strings
from harness_refarch.findings import Finding
from harness_refarch.manifest import Manifest

CHECK = "dr"
ROUTE_KINDS = ("Ingress", "HTTPRoute", "GRPCRoute", "TLSRoute", "Route", "VirtualService", "Gateway")


def _db_hosts(uris: list[ConnectionString]) -> dict[str, set[str]]:
    hosts: dict[str, set[str]] = {}
    for uri in uris:
        hosts.setdefault(uri.db, set()).update(h.lower() for h in uri.hosts)
    return hosts


def warm_standby(spec: Pair, primary: Manifest, standby: Manifest) -> list[Finding]:
    """The standby shares the primary's external databases over TLS and takes no traffic."""
    out = []
    uris = {"primary": connection_strings(primary), "standby": connection_strings(standby)}
    p_hosts, s_hosts = _db_hosts(uris["primary"]), _db_hosts(uris["standby"])
    for db in sorted(set(p_hosts) | set(s_hosts)):
        if p_hosts.get(db, set()) != s_hosts.get(db, set()):
            out.append(Finding(CHECK, f"{db} wiring", "standby database hosts",
                               f"the primary's: {', '.join(sorted(p_hosts.get(db, set()))) or 'none'}",
                               ", ".join(sorted(s_hosts.get(db, set()))) or "none"))
    for label, found in uris.items():
        for uri in found:
            if not uri.tls:
                out.append(Finding(CHECK, f"{label} {uri.location}", f"{uri.db} TLS", "on",
                                   f"off in {uri.text}"))
    for obj in standby.objects:
        if obj.kind in ROUTE_KINDS:
            out.append(Finding(CHECK, f"standby {obj.key}", "traffic entry point",
                               "none until the standby is activated (no concurrent writes)",
                               "rendered"))
    p_work, s_work = set(primary.workloads), set(standby.workloads)
    for key in sorted(p_work - s_work):
        out.append(Finding(CHECK, key, "workload on the standby", "present (as on the primary)", "missing"))
    for key in sorted(s_work - p_work):
        out.append(Finding(CHECK, key, "workload on the standby", "absent (not on the primary)", "present"))
    return out
