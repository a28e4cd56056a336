"""Findings: what a check reports, phrased for the chart maintainer who has to act on it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace


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


PLACES_SHOWN = 5


def places(items: Iterable[str], limit: int = PLACES_SHOWN) -> str:
    """``a`` for one place; ``3 places: a, b, c``; at most ``limit`` shown, then ``and N more``."""
    unique = list(dict.fromkeys(items))
    if len(unique) == 1:
        return unique[0]
    shown = ", ".join(unique[:limit])
    more = f" and {len(unique) - limit} more" if len(unique) > limit else ""
    return f"{len(unique)} places: {shown}{more}"


def collapse(findings: Iterable[Finding], limit: int = PLACES_SHOWN) -> list[Finding]:
    """Findings that differ only in where they were found become one, naming the count and places."""
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.check, f.field, f.expected, f.actual, f.hint, f.source), []).append(f)
    out = []
    for group in groups.values():
        first = group[0]
        out.append(first if len(group) == 1 else replace(first, workload=places((f.workload for f in group), limit)))
    return out


LINES_SHOWN = 50  # finding lines in one failure message; the rest are counted (pytest -v: all)


def report(findings: Iterable[Finding], context: str, limit: int | None = LINES_SHOWN) -> str:
    """A readable, multi-line failure message; empty string when there is nothing to report.

    Findings that differ only in where they were found are one line with the count and the
    places (one root cause, one line), and every line passes through the one masking function.
    At most ``limit`` lines (None: all), then one counting the rest: a chart of thousands of
    workloads that differ in a value would otherwise print thousands of lines per test (the
    run's reports keep every finding).
    """
    from harness_refarch.model.redact import mask

    unique = sorted(set(findings))
    if not unique:
        return ""
    items = sorted(collapse(unique))
    shown = items if limit is None else items[:limit]
    lines = [f"{len(unique)} finding(s) for {context}:"]
    lines += [mask(f"  - [{f.check}] {f}") for f in shown]
    if len(items) > len(shown):
        lines.append(f"  ... and {len(items) - len(shown):,} more line(s) not shown: -v shows them all, and "
                     "--refarch-report keeps every finding")
    return "\n".join(lines)
