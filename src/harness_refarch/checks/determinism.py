"""Determinism: what changes between two renders of identical inputs, and what that means for DR.

Input is a :class:`~harness_refarch.model.identity.Volatility` learned from two renders. Findings
name objects and key paths only, never values: the changing values are often generated
passwords.
"""

from __future__ import annotations

from collections import defaultdict

from harness_refarch.checks.registry import check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.findings import Finding
from harness_refarch.model.identity import Volatility
from harness_refarch.model.manifest import Manifest

CHECK = "determinism"
DR_CHECK = "dr"
MAX_KEYS = 6  # keys named per object; the rest are counted


def _bounded(keys: list[str], limit: int = MAX_KEYS) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def known_volatile(kind: str, path: str) -> bool:
    """What charts generate on purpose and comparisons ignore: random name parts, annotations
    (``rollme``, checksums of generated Secrets) and generated Secret values."""
    if path == "metadata.name" or path.startswith(("metadata.annotations", "spec.template.metadata.annotations",
                                                    "spec.jobTemplate.spec.template.metadata.annotations")):
        return True
    return kind == "Secret" and path.startswith(("data", "stringData"))


def determinism(volatility: Volatility, known: bool | None = False) -> list[Finding]:
    """One finding per object whose name or fields differ between two identical renders.

    ``known=False`` (the check): only changes outside the known-volatile places, which make
    every verdict and golden file unstable. ``known=True``: only the known-volatile ones, which
    golden files and DR comparisons ignore but a maintainer should see (``helm diff`` and GitOps
    tools show them as a change on every run). ``known=None``: all of them.
    """
    changes: dict[str, list[str]] = defaultdict(list)
    for ident in volatility.renamed:
        changes[ident].append("metadata.name")
    for kind, name, path in volatility.volatile_fields:
        changes[f"{kind}/{name}"].append(path)
    if known is not None:
        changes = defaultdict(list, {
            ident: kept for ident, keys in changes.items()
            if (kept := [k for k in keys if known_volatile(ident.split("/", 1)[0], k) == known])})
    out = []
    for ident, keys in sorted(changes.items()):
        keys = sorted(set(keys), key=lambda k: (k != "metadata.name", k))
        secret = ident.startswith("Secret/")
        out.append(Finding(
            CHECK, ident, "output of two renders of identical inputs", "identical",
            f"{len(keys)} key(s) differ: {_bounded(keys)}",
            "Secret values generated at render time, e.g. by randAlphaNum; set them in values or "
            "reference an existing Secret" if secret else
            "generated at render time, e.g. by randAlphaNum, uuidv4 or now; comparisons ignore it, "
            "but every helm diff and GitOps sync shows it as a change"))
    for ident in volatility.unstable if known is not True else ():
        out.append(Finding(
            CHECK, ident, "metadata.name", "the same in two renders of identical inputs (only Jobs may be "
            "renamed per render: they are identified without their last name segment)",
            "generated at render time",
            "every helm upgrade replaces this object, and no test id, waiver or golden key can follow it; "
            "give it a fixed name"))
    for ident in volatility.unpaired if known is not True else ():
        out.append(Finding(CHECK, ident, "object in two renders of identical inputs",
                           "present in both", "present in only one",
                           "the chart renders a varying set of objects for the same values"))
    return out


def dr_generated_secrets(volatility: Volatility) -> list[Finding]:
    """Generated Secrets that a DR primary and standby would hold with different values.

    The two clusters are installed from separate renders, so each gets its own random values;
    a standby promoted later then cannot read what the primary wrote with them.
    """
    keys: dict[str, list[str]] = defaultdict(list)
    for kind, name, path in volatility.volatile_fields:
        if kind == "Secret":
            keys[name].append(path)
    out = []
    for name in volatility.secrets_differing:
        found = sorted(keys.get(name, []))
        out.append(Finding(
            DR_CHECK, f"Secret/{name}", "value on primary and standby",
            "the same on both clusters",
            f"generated independently on each ({_bounded(found) or 'keys not traced'})",
            "set these values explicitly in the values of both clusters or point the chart at an "
            "existing Secret that you replicate to the standby"))
    return out


@check("deterministic", findings=(CHECK, DR_CHECK), once_per_architecture=True, needs=("repeat",),
       doc="Two renders of identical inputs differ only where the chart says so: names of the objects and keys "
           "that change (never values), and the generated Secrets a DR standby would not share.")
def deterministic(pair: Pair, manifest: Manifest, volatility: Volatility) -> list[Finding]:
    """What the second render of the pair's architecture showed (see :func:`determinism`)."""
    return determinism(volatility)
