"""Root causes: the findings of a run deduplicated across pairs, each with a place to fix it.

A finding that holds for several (profile, architecture) pairs is one root cause when its check,
workload, field and source (the values file and key that set the failing value) are the same;
the pairs go with it. A per-workload golden finding that only says its pair's golden file cannot
be compared belongs to the file's root cause. Each root cause has a severity
(:mod:`harness_refarch.checks.severities`), says whether it fails the run (at or above
``--refarch-fail-on``, not waived), a location (the values file line that set the value; else
the chart's ``Chart.yaml``) and a fingerprint made of its
stable identity (check, workload, field, file and key of its source: never the actual value or
a line number), so that code scanning follows it across commits. The terminal summary, the
SARIF file and the GitHub annotations all read this one model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness_refarch.checks import golden
from harness_refarch.checks.severities import RANK, Gate
from harness_refarch.engine.waivers import Waivers
from harness_refarch.model.findings import Finding
from harness_refarch.model.identity import normalise_name
from harness_refarch.model.redact import mask

NOT_TRACED = "source not traced"
_LINE_KEY = re.compile(r"(?P<line>\d+)(?: (?P<key>[^\s,]+))?(?=,|\s|$)")
_FALLBACK = re.compile(r"^(?P<origin>[^\s:][^:]*?):(?P<line>\d+)(?: (?P<key>[^\s,]+))?(?=,|\s|$)")
_TOKENS = re.compile(r"([\s/,()\[\]=*]+)")
_LINE_NUMBERS = re.compile(r"\b(line|lines|column)s? \d+(?: and \d+)?|:\d+\b")


@dataclass(frozen=True)
class Source:
    """Where a finding's value was set: the layer's label (``origin``), line and key path."""

    origin: str = ""
    line: int = 0
    key: str = ""


def parse_source(source: str, origins: Iterable[str] = ()) -> Source:
    """``"override-large.yaml:84 platform.x.y, overriding ..."`` -> origin, 84, platform.x.y.

    Known layer labels are matched first (they may hold ``:`` or spaces, e.g. a user's path),
    then ``<file>:<line>``; ``""`` and ``"source not traced"`` give an empty Source.
    """
    text = source.strip()
    if not text or text == NOT_TRACED:
        return Source()
    for origin in sorted(set(origins), key=len, reverse=True):
        if origin and text.startswith(origin + ":"):
            m = _LINE_KEY.match(text, len(origin) + 1)
            if m:
                return Source(origin, int(m.group("line")), m.group("key") or "")
    m = _FALLBACK.match(text)
    if m:
        return Source(m.group("origin"), int(m.group("line")), m.group("key") or "")
    return Source()


@dataclass(frozen=True)
class Location:
    """A file (absolute) and a 1-based line (0: the file as a whole)."""

    path: Path
    line: int = 0

    def shown(self, base: Path | None) -> str:
        """The path relative to ``base`` when below it (POSIX separators), else absolute."""
        if base is not None:
            try:
                return self.path.relative_to(base).as_posix()
            except ValueError:
                pass
        return self.path.as_posix()


@dataclass(frozen=True)
class RootCause:
    check: str
    workload: str
    field: str
    severity: str
    failing: bool  # at or above --refarch-fail-on and not waived
    waiver: str  # the reason when waived
    pairs: tuple[str, ...]
    findings: tuple[Finding, ...]  # the distinct findings behind it, the first pair's first
    source: Source
    location: Location | None
    fingerprint: str

    @property
    def count(self) -> int:
        """How many (pair, finding) entries it stands for."""
        return len(self.pairs)

    @property
    def first(self) -> Finding:
        return self.findings[0]

    def summary(self) -> str:
        """One line for the terminal: workload, field, expected, actual and source, no hint."""
        f = self.first
        text = f"{f.workload}: {f.field}: expected {f.expected}, got {f.actual}"
        if f.source:
            text += f" [{f.source}]" if f.source == NOT_TRACED else f" [set by {f.source}]"
        return mask(text)

    def describe(self) -> str:
        """The first finding as the tests print it (masked), without the check id."""
        text = str(self.first)
        if len({(f.expected, f.actual) for f in self.findings}) > 1:
            text += f" (other values in {len(self.findings) - 1} more of its pairs)"
        return mask(text)


def _identity_text(text: str) -> str:
    """``text`` without generated name parts and line numbers: what stays when lines move."""
    text = _LINE_NUMBERS.sub(lambda m: m.group(1) or ":", text)
    return "".join(normalise_name(p) if i % 2 == 0 else p for i, p in enumerate(_TOKENS.split(text)))


def waiver_reason(waivers: Waivers | None, finding: Finding, pair_id: str) -> str:
    """The reason of the first active waiver that matches (as Waivers.split chooses), without
    counting a use (the tests already did)."""
    if waivers is None:
        return ""
    for waiver in waivers.entries:
        if waiver.matches(finding, pair_id) and not waiver.is_expired(waivers.today):
            return waiver.reason
    return ""


def build(found: Iterable[tuple[str, Finding]], gate: Gate, *, pair_order: Sequence[str] = (),
          layer_paths: Mapping[str, Path] | None = None, chart_dir: Path | None = None,
          fallback: Path | None = None, waivers: Waivers | None = None,
          normalise: Callable[[str, str], str] | None = None,
          waiver_of: Callable[[str, Finding], str] | None = None,
          locator: Callable[[Source], Location | None] | None = None) -> list[RootCause]:
    """The root causes of ``found`` ((pair id, finding) entries), most severe first.

    ``normalise(pair id, workload)`` gives a workload's stable identity (names helm generates
    at random replaced by what the determinism renders learned); a root cause is about that
    identity, so one Job with a random name per pair is one root cause with one fingerprint.

    ``layer_paths`` maps each values layer's label (as sources name it) to its file;
    ``fallback`` is where findings without a traced source are located (the chart's Chart.yaml).
    ``waiver_of(pair id, finding)`` and ``locator(source)``, when given, replace ``waivers`` and
    the file lookup: ``harness-refarch merge`` answers both from what the shards recorded.
    """
    paths = dict(layer_paths or {})
    order = {p: i for i, p in enumerate(pair_order)}
    groups: dict[tuple[str, ...], list[tuple[str, Finding]]] = {}
    parsed: dict[str, Source] = {}
    entries = []
    for pair_id, finding in found:
        reason = waiver_of(pair_id, finding) if waiver_of is not None else waiver_reason(waivers, finding, pair_id)
        entries.append((pair_id, finding, reason))
    # A per-workload golden finding that only points at its pair's golden file is that file's
    # root cause, not one per workload (grouped across pairs it would state the first pair's file
    # for every pair): it is left out where the file's own finding is there, waived alike.
    files = {(p, bool(r)) for p, f, r in entries if f.check == golden.CHECK and f.workload == golden.FILE}
    for pair_id, finding, reason in entries:
        if golden.is_pointer(finding) and (pair_id, bool(reason)) in files:
            continue
        src = parsed.get(finding.source)
        if src is None:
            src = parsed[finding.source] = parse_source(finding.source, paths)
        workload = normalise(pair_id, finding.workload) if normalise is not None else finding.workload
        key = (finding.check, workload, finding.field, src.origin, src.key, reason)
        groups.setdefault(key, []).append((pair_id, finding))
    out: list[RootCause] = []
    for (check, workload, field_, _, _, reason), members in groups.items():
        members.sort(key=lambda m: (order.get(m[0], len(order)), m[0], m[1]))
        first_src = parsed[members[0][1].source]
        severity = gate.severities.level(check)
        findings = tuple(dict.fromkeys(f for _, f in members))
        out.append(RootCause(
            check=check, workload=workload, field=field_, severity=severity,
            failing=not reason and gate.fails(findings[0]), waiver=reason,
            pairs=tuple(dict.fromkeys(p for p, _ in members)), findings=findings, source=first_src,
            location=locator(first_src) if locator is not None else locate(first_src, paths, chart_dir, fallback),
            fingerprint=""))
    out.sort(key=sort_key)
    return _fingerprinted(out)


def sort_key(rc: RootCause) -> tuple[object, ...]:
    """Failing before not failing before waived; then most severe, most pairs, then by name."""
    state = 0 if rc.failing else 2 if rc.waiver else 1
    return (state, RANK.get(rc.severity, 0), -rc.count, rc.check, rc.workload, rc.field,
            rc.source.origin, rc.source.line)


def _fingerprinted(causes: list[RootCause]) -> list[RootCause]:
    """Each root cause's fingerprint: a digest of its identity and, when several share one
    identity (the same rule on different lines of one file), its occurrence number in line order."""
    seen: dict[str, int] = {}
    digests = []
    for rc in sorted(causes, key=lambda r: (r.source.line, sort_key(r))):
        material = "\0".join([rc.check, _identity_text(rc.workload), _identity_text(rc.field),
                              Path(rc.source.origin).name, rc.source.key])
        digest = hashlib.sha256(material.encode()).hexdigest()[:32]
        seen[digest] = seen.get(digest, 0) + 1
        digests.append((id(rc), f"{digest}:{seen[digest]}"))
    by_id = dict(digests)
    return [replace(rc, fingerprint=by_id[id(rc)]) for rc in causes]


def locate(src: Source, paths: Mapping[str, Path], chart_dir: Path | None,
           fallback: Path | None) -> Location | None:
    """The values file line that set the value, else ``fallback`` (the chart's Chart.yaml)."""
    if src.origin:
        candidates = [paths.get(src.origin), Path(src.origin)]
        if chart_dir is not None:
            candidates.append(chart_dir / src.origin)
        for path in candidates:
            if path is not None and path.is_absolute() and path.is_file():
                return Location(path.resolve(), src.line)
    return Location(fallback, 0) if fallback is not None else None


def per_check(causes: Iterable[RootCause]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rc in causes:
        counts[rc.check] = counts.get(rc.check, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def pair_summary(pairs: Sequence[str], all_pairs: Sequence[str], profiles: Mapping[str, str],
                 limit: int = 4) -> str:
    """``all 16 pairs``, ``small-* (5 pairs)``, ``3 pairs: a, b, c``: the pairs a root cause holds for."""
    if len(pairs) == 1:
        return pairs[0]
    if all_pairs and set(pairs) >= set(all_pairs):
        return f"all {len(pairs)} pairs"
    by_profile: dict[str, list[str]] = {}
    for p in all_pairs:
        by_profile.setdefault(profiles.get(p, ""), []).append(p)
    parts: list[str] = []
    covered: set[str] = set()
    for profile, members in by_profile.items():
        if profile and len(members) > 1 and set(members) <= set(pairs):
            parts.append(f"{profile}-*")
            covered.update(members)
    parts += [p for p in pairs if p not in covered]
    shown = ", ".join(parts[:limit]) + (f" and {len(parts) - limit} more" if len(parts) > limit else "")
    return f"{len(pairs)} pairs: {shown}"


LISTED = 50  # root causes a terminal lists; the rest are counted per check (a 5,000-workload chart had 10,000)


def listing(causes: Sequence[RootCause], pair_text: Callable[[RootCause], str], *, limit: int | None = LISTED,
            indent: str = "", rest: str = "") -> list[str]:
    """One line per root cause, in the order given (most severe first), at most ``limit`` (None:
    all), then one line counting the ones not listed by check, with ``rest`` saying where they are.
    Why: the terminal is read by a person; every root cause stays in the reports."""
    shown = list(causes) if limit is None else list(causes[:limit])
    lines = [f"{indent}{rc.severity.upper():7} {rc.check}: {rc.summary()} | {pair_text(rc)}"
             + ("" if rc.failing else " (not failing)") for rc in shown]
    hidden = causes[len(shown):]
    if hidden:
        counts = ", ".join(f"{check} {n:,}" for check, n in per_check(hidden).items())
        failing = sum(rc.failing for rc in hidden)
        lines.append(f"{indent}... and {len(hidden):,} more root cause(s) not listed here ({failing:,} failing; "
                     f"per check: {counts})" + (f": {rest}" if rest else ""))
    return lines
