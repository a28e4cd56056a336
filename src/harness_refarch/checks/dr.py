"""Disaster recovery with a warm standby: same databases, no traffic, same workloads.

Workloads of the two sites are compared by a normalised identity, so a hook Job named with a
random suffix (``db-migrate-x7k2p`` on the primary, ``db-migrate-9fz3q`` on the standby) is
the same Job. Findings that share one root cause (every connection string of a site lacking
TLS because one external host has none) are reported once, with the count and the places.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from harness_refarch.chart.keypaths import dotted, lookup
from harness_refarch.chart.values import load_layer
from harness_refarch.checks.determinism import dr_generated_secrets
from harness_refarch.checks.registry import check
from harness_refarch.checks.wiring import ConnectionString, collapse, connection_strings, mask_finding, tls_findings
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.identity import Volatility, object_identity
from harness_refarch.model.manifest import Manifest

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


def _canonical(manifest: Manifest, volatility: Volatility | None) -> dict[str, str]:
    """Every object by identity, its body without the fields two identical renders change
    (Secrets by their keys only: generated values are compared by ``dr_generated_secrets``)."""
    out: dict[str, str] = {}
    for obj in manifest.objects:
        body = volatility.strip(obj.body) if volatility is not None else obj.body
        if obj.kind == "Secret":
            body = {k: sorted(body.get(k) or {}) for k in ("data", "stringData")}
        out[identity(obj.key, volatility)] = json.dumps(body, sort_keys=True, default=str)
    return out


def _overlay_keys(spec: Pair) -> str:
    """The keys the standby overlay sets (``global.dr.createCluster=true, ...``), for messages."""
    path = spec.architecture.standby_overlay
    if path is None:
        return "the standby overlay"
    try:
        layer = load_layer(path)
    except RefarchError:
        return path.name
    paths = list(layer.key_paths())
    leaves = [f"{dotted(k)}: {str(lookup(layer.values, k)[1]).lower()}" for k in paths
              if not any(other[:len(k)] == k and other != k for other in paths)]
    return ", ".join(leaves) or path.name


def _unchanged_standby(spec: Pair, primary: Manifest, standby: Manifest,
                       volatility: Volatility | None) -> Finding | None:
    """One finding when the standby render is the primary's: the chart reads none of the keys
    the standby overlay sets, so every standby symptom (an Ingress taking traffic) has that cause."""
    routes = sorted(obj.key for obj in standby.objects if obj.kind in ROUTE_KINDS)
    if not routes or _canonical(primary, volatility) != _canonical(standby, volatility):
        return None
    name = spec.architecture.standby_overlay.name if spec.architecture.standby_overlay else "standby overlay"
    return Finding(CHECK, "standby render", f"what {name} changes",
                   f"a standby that takes no traffic until activated ({_overlay_keys(spec)})",
                   f"nothing: the standby render equals the primary's, with its {len(routes)} traffic "
                   f"entry point(s) ({routes[0]}, ...)",
                   "the chart reads none of the keys the standby overlay sets, so it cannot render a "
                   "standby; every standby finding follows from that")


@check("warm_standby", findings=(CHECK,), where={"dr": True}, needs=("standby", "repeat"), diff=True)
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
    unchanged = _unchanged_standby(spec, primary, standby, volatility)
    if unchanged is not None:
        out.append(unchanged)  # the cause, instead of each Ingress as if the chart had been asked in vain
    for obj in standby.objects if unchanged is None else ():
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
