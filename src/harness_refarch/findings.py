"""Findings: what a check reports, phrased for the chart maintainer who has to act on it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    """One violation: which workload, which field, what was expected, what the render has."""

    check: str
    workload: str
    field: str
    expected: str
    actual: str
    hint: str = ""
    # Where the failing value was set, e.g. "override-large.yaml:212 platform.ng-manager.replicaCount";
    # empty when the finding is not about a value from a values layer.
    source: str = ""

    def __str__(self) -> str:
        text = f"{self.workload}: {self.field}: expected {self.expected}, got {self.actual}"
        if self.source == "source not traced":
            text += " [source not traced]"
        elif self.source:
            text += f" [set by {self.source}]"
        return f"{text} ({self.hint})" if self.hint else text


def report(findings: Iterable[Finding], context: str) -> str:
    """A readable, multi-line failure message; empty string when there is nothing to report."""
    items = sorted(set(findings))
    if not items:
        return ""
    lines = [f"{len(items)} finding(s) for {context}:"]
    lines += [f"  - [{f.check}] {f}" for f in items]
    return "\n".join(lines)
