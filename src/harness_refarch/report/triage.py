"""The triage view of a report: problems first, each finding once, a matrix that fits a screen.

A release manager reads a report to decide "can we ship, and what must be fixed first?". On a
real chart the run has thousands of failing (test, pair) entries but a few hundred root causes
(:mod:`harness_refarch.report.rootcauses`: a finding deduplicated across pairs). This module lays the
root causes out for the HTML and Markdown reports:

* a **problem** is the root causes of one rule (check id) on one object (a workload, a values
  file, a database...), in the order of the root causes (failing, most severe, most pairs
  first), new or baseline (a waived finding is known: it is in the baseline);
* each root cause is shown once, with the pairs it holds for ("all 21 pairs" when it holds for
  all of them);
* the matrix has a row per check and a column per pair, and a cell holds a count, so that it
  fits a 1400 px screen however many checks and pairs ran;
* tests that failed without findings (a render that failed, a test error) show their message
  once, with the checks and pairs it was printed for.

When the caller gives no root causes (``ReportData.root_causes is None``), they are derived from
the results (every finding of a waived test counted as waived).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from harness_refarch.checks.severities import RANK, Gate, Severities
from harness_refarch.model.findings import Finding
from harness_refarch.report import rootcauses
from harness_refarch.report.rootcauses import RootCause

if TYPE_CHECKING:
    from harness_refarch.report.data import ReportData, TestResult

TOP = 20  # problems listed in "Top problems"; all of them are in "Findings"
MESSAGE_LIMIT = 2000  # characters of a failure message without findings
_CONTAINER = re.compile(r"^(?P<object>\S+/\S+) (?P<rest>container .*)$")
_WORST_FIRST = ("error", "fail", "waived", "skipped", "pass")
_MARK = {"error": "E", "waived": "w", "skipped": "s", "pass": "\u2713"}


def split_object(workload: str) -> tuple[str, str]:
    """``"Deployment/x container y (init)"`` -> ``("Deployment/x", "container y (init)")``;
    anything else is an object of its own (a values file, a database, ``2 places: ...``)."""
    m = _CONTAINER.match(workload)
    return (m.group("object"), m.group("rest")) if m else (workload, "")


@dataclass(frozen=True)
class Problem:
    """The root causes of one rule on one object, new or baseline (waived, with its reason).

    Objects whose root causes read the same (same fields, values, sources and pairs: e.g. every
    workload compared with a golden file of another chart) are one problem with several objects;
    ``causes`` are the first object's.
    """

    check: str
    objects: tuple[str, ...]
    severity: str
    failing: bool
    waiver: str
    causes: tuple[RootCause, ...]
    pairs: tuple[str, ...]

    @property
    def status(self) -> str:
        return "baseline" if self.waiver else "new"

    @property
    def object(self) -> str:
        if len(self.objects) == 1:
            return self.objects[0]
        more = f" and {len(self.objects) - 3} more" if len(self.objects) > 3 else ""
        return f"{len(self.objects)} objects: {', '.join(self.objects[:3])}{more}"

    @property
    def root_causes(self) -> int:
        return len(self.causes) * len(self.objects)


def pair_order(data: ReportData) -> list[str]:
    """The pairs of the run: those with a capacity row (catalogue order), then any other that ran."""
    return list(dict.fromkeys([*(p.pair_id for p in data.pairs), *(r.pair_id for r in data.results)]))


def derive_causes(results: Sequence[TestResult], severities: Severities, order: Sequence[str]) -> list[RootCause]:
    """Root causes of ``results`` when the caller has none: a waived test's findings are waived."""
    gate = Gate(severities)
    by_reason: dict[str, dict[tuple[str, Finding], None]] = {}
    for r in results:
        reason = r.waiver_reason if r.outcome == "waived" else ""
        for f in r.findings:
            by_reason.setdefault(reason, {})[(r.pair_id, f)] = None
    out: list[RootCause] = []
    for reason, found in by_reason.items():
        causes = rootcauses.build(list(found), gate, pair_order=order)
        out += [replace(rc, waiver=reason, failing=False) if reason else rc for rc in causes]
    out.sort(key=rootcauses.sort_key)
    return out


def _reads(rc: RootCause) -> tuple[object, ...]:
    """What a root cause says, apart from its object."""
    f = rc.first
    return (split_object(rc.workload)[1], rc.field, f.expected, f.actual, f.source, f.hint, len(rc.findings), rc.pairs)


def problems(causes: Iterable[RootCause], order: Sequence[str]) -> list[Problem]:
    """Root causes grouped by (rule, object, waiver), in the order of their first (worst) root
    cause; objects whose root causes read the same are one problem."""
    rank = {p: i for i, p in enumerate(order)}
    groups: dict[tuple[str, str, str], list[RootCause]] = {}
    for rc in sorted(causes, key=rootcauses.sort_key):
        groups.setdefault((rc.check, split_object(rc.workload)[0], rc.waiver), []).append(rc)
    merged: dict[tuple[object, ...], list[tuple[str, list[RootCause]]]] = {}
    for (check, obj, waiver), members in groups.items():
        merged.setdefault((check, waiver, *(_reads(rc) for rc in members)), []).append((obj, members))
    out = []
    for objects in merged.values():
        members = objects[0][1]
        check, waiver = members[0].check, members[0].waiver
        pairs = sorted({p for rc in members for p in rc.pairs}, key=lambda p: (rank.get(p, len(rank)), p))
        out.append(Problem(check, tuple(obj for obj, _ in objects), members[0].severity,
                           any(rc.failing for rc in members), waiver, tuple(members), tuple(pairs)))
    return out


# -- the view the templates show -----------------------------------------------------------------

def _profiles(data: ReportData) -> dict[str, str]:
    return {p.pair_id: p.profile for p in data.pairs}


def _finding_row(rc: RootCause, problem: Problem, pairs_text: Any, local: Any) -> dict[str, Any]:
    f = rc.first
    others = len({(x.expected, x.actual) for x in rc.findings}) - 1
    return {
        "where": local(split_object(rc.workload)[1]), "field": local(rc.field), "expected": local(f.expected),
        "actual": local(f.actual), "source": local(f.source), "hint": local(f.hint),
        "other_values": others,
        # a row names its pairs only when they differ from its problem's
        "pairs": "" if rc.pairs == problem.pairs else pairs_text(rc.pairs),
    }


# (heading, key) of a problem's findings table; empty columns are left out
_COLUMNS = (("where", "where"), ("field", "field"), ("expected", "expected"), ("actual", "actual"),
            ("set by", "source"), ("hint", "hint"))


def _columns(rows: Sequence[dict[str, Any]], common_hint: bool) -> list[dict[str, Any]]:
    """The columns that have text, each as wide as its longest text asks (within bounds)."""
    shown = [(h, k) for h, k in _COLUMNS if k in ("field", "expected", "actual")
             or (any(r[k] for r in rows) and not (k == "hint" and common_hint))]
    weights = [min(60, max(8, *(len(r[k]) for r in rows))) for _, k in shown]
    total = sum(weights)
    return [{"heading": h, "key": k, "width": round(100 * w / total, 1)}
            for (h, k), w in zip(shown, weights, strict=True)]


def problem_views(data: ReportData, causes: Sequence[RootCause], severities: Severities,
                  local: Any) -> dict[str, Any]:
    """Problems for the templates, each with its findings (root causes) once, and the counts."""
    order = pair_order(data)
    profiles = _profiles(data)

    def pairs_text(pairs: Sequence[str]) -> str:  # every pair, profiles whose pairs all hold collapsed
        return rootcauses.pair_summary(pairs, order, profiles, limit=len(pairs))

    found = problems(causes, order)
    views = []
    for number, p in enumerate(found, 1):
        rows = [_finding_row(rc, p, pairs_text, local) for rc in p.causes]
        hints = {r["hint"] for r in rows}
        common_hint = hints.pop() if len(hints) == 1 else ""
        fields = list(dict.fromkeys(r["field"] for r in rows))
        views.append({
            "number": number, "anchor": f"problem-{number}", "check": p.check, "object": local(p.object),
            "objects": local(", ".join(p.objects)) if len(p.objects) > 1 else "",
            "severity": p.severity, "failing": p.failing, "status": p.status, "waiver": local(p.waiver),
            "pairs": rootcauses.pair_summary(p.pairs, order, profiles), "pairs_full": pairs_text(p.pairs),
            "count": len(p.causes), "columns": _columns(rows, bool(common_hint)),
            "fields": ", ".join(fields[:3]) + (f" and {len(fields) - 3} more" if len(fields) > 3 else ""),
            "common_hint": common_hint, "rows": rows,
        })
    new = [p for p in found if not p.waiver]
    by_severity: dict[str, int] = {}
    for p in new:
        by_severity[p.severity] = by_severity.get(p.severity, 0) + 1
    rules = list(dict.fromkeys(p.check for p in found))
    return {
        "problems": views, "top": views[:TOP],
        "counts": {"causes": len(causes), "problems": len(found), "new": len(new), "baseline": len(found) - len(new),
                   "failing": sum(p.failing for p in new), "new_causes": sum(p.root_causes for p in new),
                   "by_severity": sorted(by_severity.items(), key=lambda kv: _severity_rank(kv[0])),
                   "per_rule": [(check, n) for check, n in rootcauses.per_check(causes).items()]},
        "rules": [{"check": c, "severity": severities.level(c), "help": severities.help(c)} for c in rules],
    }


def _severity_rank(level: str) -> int:
    return RANK.get(level, len(RANK))


def matrix(data: ReportData) -> dict[str, Any]:
    """A row per check, a column per pair; a cell is the worst outcome and how many tests had it."""
    checks = list(dict.fromkeys(r.check for r in data.results))
    known = {p.pair_id: p for p in data.pairs}
    order = pair_order(data)
    cells: dict[tuple[str, str], list[str]] = {}
    for r in data.results:
        cells.setdefault((r.check, r.pair_id), []).append(r.outcome)
    columns = []
    for pair_id in order:
        pair = known.get(pair_id)
        columns.append({"pair": pair_id, "profile": pair.profile if pair else pair_id,
                        "architecture": pair.architecture if pair else ""})
    groups: list[dict[str, Any]] = []  # consecutive pairs of one architecture share a header cell
    for column in columns:
        if groups and groups[-1]["architecture"] == column["architecture"]:
            groups[-1]["span"] += 1
        else:
            groups.append({"architecture": column["architecture"], "span": 1})
    rows = []
    for check in checks:
        row = []
        failing = 0
        for column in columns:
            outcomes = cells.get((check, column["pair"]), [])
            counts = {o: outcomes.count(o) for o in _WORST_FIRST}
            worst = next((o for o in _WORST_FIRST if counts[o]), "none")
            bad = counts["fail"] + counts["error"]
            failing += bool(bad)
            text = str(counts["fail"]) if worst == "fail" else "" if worst == "none" else _MARK[worst]
            if worst == "error":
                text = f"E{bad}" if bad > 1 else "E"
            row.append({"status": worst, "text": text,
                        "title": ", ".join(f"{counts[o]} {o}" for o in _WORST_FIRST if counts[o]) or "not applicable"})
        rows.append({"check": check, "cells": row, "failing": failing})
    return {"checks": checks, "columns": columns, "groups": groups, "rows": rows}


def _normalised(message: str, pair_id: str) -> str:
    return message.replace(pair_id, "<pair>") if pair_id else message


def unexplained(data: ReportData, local: Any) -> list[dict[str, Any]]:
    """Failed or erroring tests without findings: each distinct message once, with its checks and pairs."""
    order = pair_order(data)
    profiles = _profiles(data)
    groups: dict[tuple[str, str], list[TestResult]] = {}
    for r in data.results:
        if r.outcome in ("fail", "error") and not r.findings:
            groups.setdefault((r.outcome, _normalised(r.message, r.pair_id)), []).append(r)
    out = []
    for (outcome, message), members in groups.items():
        pairs = list(dict.fromkeys(r.pair_id for r in members))
        text = local(message)
        out.append({"outcome": outcome, "message": text[:MESSAGE_LIMIT] + (" ..." if len(text) > MESSAGE_LIMIT else ""),
                    "checks": ", ".join(dict.fromkeys(r.check for r in members)), "tests": len(members),
                    "pairs": rootcauses.pair_summary(pairs, order, profiles) if pairs != [""] else ""})
    return out


def localiser(prefixes: Iterable[str]) -> Any:
    """A function making ``text`` relative: every ``<prefix>/`` removed (the chart's local path)."""
    cut = sorted({p.rstrip("/") + "/" for p in prefixes if p and p.strip("/")}, key=len, reverse=True)

    def local(text: str) -> str:
        for prefix in cut:
            text = text.replace(prefix, "")
        return text

    return local


def title(chart_name: str, chart: str, version: str) -> str:
    """The chart's name (from Chart.yaml) and version; never the local path it was read from."""
    name = chart_name or chart.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]
    return f"{name} {version}".strip()

