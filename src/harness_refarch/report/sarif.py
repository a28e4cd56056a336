"""SARIF 2.1.0 for code scanning (GitHub and others): one rule per check id, one result per root cause.

Each rule carries the check's help text and default severity (``fixtures/severities.yaml``);
each result is located at the values file line that set the failing value (else the chart's
``Chart.yaml``), carries the pairs it holds for in its message and properties, and has a
``partialFingerprints`` entry made of its stable identity (see
:mod:`harness_refarch.report.rootcauses`). Waived root causes are results with an external
suppression and the waiver's reason. Paths below ``base`` (the repository: ``GITHUB_WORKSPACE``
or the working directory) are relative to the ``%SRCROOT%`` base id, as code scanning expects.
Every string passes through :func:`harness_refarch.model.redact.mask`; nothing is timestamped, so
two runs on the same inputs write the same file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from harness_refarch import __version__
from harness_refarch.checks.severities import SARIF_LEVEL, Severities
from harness_refarch.model.redact import mask
from harness_refarch.report.rootcauses import Location, RootCause

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT = "harnessRefarchFinding/v1"
SRCROOT = "%SRCROOT%"


def _artifact(location: Location, base: Path | None) -> dict[str, Any]:
    shown = location.shown(base)
    if not shown.startswith("/"):
        return {"uri": quote(shown), "uriBaseId": SRCROOT}
    return {"uri": location.path.as_uri()}


def _rule(check: str, severities: Severities) -> dict[str, Any]:
    help_text = severities.help(check) or f"harness-refarch check {check}."
    short = help_text.split(". ")[0].rstrip(".") + "."
    level = severities.level(check)
    return {"id": check, "name": "".join(part.capitalize() for part in check.split("-")),
            "shortDescription": {"text": short}, "fullDescription": {"text": help_text},
            "help": {"text": help_text}, "defaultConfiguration": {"level": SARIF_LEVEL[level]},
            "properties": {"severity": level}}


def _message(rc: RootCause, pairs_text: str) -> str:
    state = "" if rc.failing else f" [waived: {rc.waiver}]" if rc.waiver else " [below --refarch-fail-on: not failing]"
    return f"[{rc.check}] {rc.describe()}; holds for {pairs_text}{state}"


def sarif_log(causes: Sequence[RootCause], severities: Severities, base: Path | None,
              pair_text: Any = None, chart: str = "", chart_version: str = "") -> dict[str, Any]:
    """The SARIF log as a dict. ``pair_text(rc)`` phrases the pairs of a root cause."""
    checks = sorted({*severities.checks(), *(rc.check for rc in causes)})
    index = {check: i for i, check in enumerate(checks)}
    results = []
    for rc in causes:
        pairs_text = pair_text(rc) if pair_text is not None else ", ".join(rc.pairs)
        result: dict[str, Any] = {
            "ruleId": rc.check, "ruleIndex": index[rc.check], "level": SARIF_LEVEL[rc.severity],
            "message": {"text": _message(rc, pairs_text)},
            "partialFingerprints": {FINGERPRINT: rc.fingerprint},
            "properties": {"severity": rc.severity, "failing": rc.failing, "workload": rc.workload,
                           "field": rc.field, "expected": rc.first.expected, "actual": rc.first.actual,
                           "source": rc.first.source, "pairs": list(rc.pairs), "count": rc.count}}
        location: dict[str, Any] = {"logicalLocations": [{"name": rc.workload, "kind": "object"}]}
        if rc.location is not None:
            physical: dict[str, Any] = {"artifactLocation": _artifact(rc.location, base)}
            physical["region"] = {"startLine": max(rc.location.line, 1)}
            location["physicalLocation"] = physical
        result["locations"] = [location]
        if rc.first.hint:
            result["properties"]["hint"] = rc.first.hint
        if rc.waiver:
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": rc.waiver}]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "harness-refarch", "version": __version__, "semanticVersion": __version__,
                            "rules": [_rule(c, severities) for c in checks]}},
        "results": results, "columnKind": "unicodeCodePoints",
        "properties": {"chart": chart, "chartVersion": chart_version}}
    if base is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": base.as_uri().rstrip("/") + "/"}}
    log: dict[str, Any] = _masked({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]})
    return log


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def dumps(log: dict[str, Any]) -> str:
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
