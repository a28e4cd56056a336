"""Known gaps as data: a waivers file that turns accepted findings into expected failures.

A chart with known gaps can only gate on *new* problems if the old ones are written down with a
reason. Each waiver matches findings by four case-sensitive glob patterns (check, pair id,
workload, field) and carries a reason and an optional expiry date, so every exception is
visible, justified and temporary. Waivers that match nothing (stale) or have passed their date
(expired) are reported themselves, so the file cannot rot silently.

File format (YAML, safe loader)::

    waivers:
      - check: resources                      # glob on Finding.check      (default "*")
        pair: large-*                         # glob on the pair id         (default "*")
        workload: Deployment/delegate-proxy*  # glob on Finding.workload   (default "*")
        field: "*limits*"                     # glob on Finding.field      (default "*")
        reason: proxy sized by the customer, see ticket 123   # required
        expires: 2026-06-30                   # optional; the last day the waiver applies
        chart: harness                        # optional glob on the chart name (Chart.yaml)
        optional: true                        # optional; a pattern, never stale (default false)

A waiver with ``chart`` is about one chart's intentional pattern (the default waivers file
serves every chart the suite runs on): on a chart whose name does not match it is inactive,
so it neither waives nor goes stale there. A waiver with ``optional: true`` describes a pattern
that not every configuration of its chart renders (an Ingress exists only where a profile turns
ingress on): it waives wherever it matches and never goes stale, so a run of profiles that
render no such object does not fail on a shipped entry its user cannot delete.

``baseline()`` writes one exact entry per current finding; it never stores a finding's expected
or actual value, which may contain (masked) connection strings.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from harness_refarch.model import yaml_limits
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import SAFE_DUMPER, SAFE_LOADER, yaml_problem

PATTERN_KEYS = ("check", "pair", "workload", "field")
ENTRY_KEYS = (*PATTERN_KEYS, "reason", "expires", "chart", "optional")
TOP_KEY = "waivers"


class _WaiverLoader(SAFE_LOADER):  # type: ignore[misc]
    """The C safe loader, but timestamps stay text: PyYAML would raise a line-less ValueError on 2025-13-01."""


_WaiverLoader.add_constructor("tag:yaml.org,2002:timestamp", _WaiverLoader.construct_yaml_str)

_GLOB_ESCAPES = {"[": "[[]", "*": "[*]", "?": "[?]"}


@dataclass(frozen=True)
class Waiver:
    """One entry of a waivers file: four glob patterns, a reason and an optional last day."""

    check: str
    pair: str
    workload: str
    field: str
    reason: str
    expires: date | None = None
    chart: str = "*"  # glob on the chart name: the waiver applies only to charts it matches
    optional: bool = False  # a pattern some configurations do not render: never stale
    source: str = ""  # the waivers file, for messages
    line: int = 0  # 1-based line of the entry in that file
    index: int = 0  # 0-based position in the file's list

    def matches(self, finding: Finding, pair_id: str) -> bool:
        """True when all four patterns match (fnmatchcase: case-sensitive on every platform)."""
        return (fnmatchcase(finding.check, self.check) and fnmatchcase(pair_id, self.pair)
                and fnmatchcase(finding.workload, self.workload) and fnmatchcase(finding.field, self.field))

    def is_expired(self, today: date) -> bool:
        """The expiry date is the last day the waiver applies, so it is expired from the next day on."""
        return self.expires is not None and today > self.expires

    def describe(self) -> str:
        """Where the waiver is and what it matches, so a failing run says which entry to edit."""
        where = f"{self.source}:{self.line}" if self.line else (self.source or "<waivers>")
        patterns = " ".join(f"{key}={getattr(self, key)}" for key in PATTERN_KEYS)
        until = f" expires={self.expires.isoformat()}" if self.expires else ""
        return f"{where} (entry {self.index + 1}) {patterns}{until}"


@dataclass
class Waivers:
    """The waivers of one file plus which of them matched findings in this run.

    ``today`` is fixed at load time so that one run judges expiry consistently even across midnight.
    """

    entries: tuple[Waiver, ...] = ()
    today: date = field(default_factory=date.today)
    source: str = ""
    _hits: dict[int, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def split(self, findings: Iterable[Finding],
              pair_id: str) -> tuple[list[Finding], list[tuple[Finding, Waiver]]]:
        """Separate findings that still fail from those waived (with the first active waiver that matches).

        Every matching waiver is recorded as used, including expired ones, so that a redundant
        entry is not called stale and an expired one can say what it would have waived.
        """
        failing: list[Finding] = []
        waived: list[tuple[Finding, Waiver]] = []
        for finding in findings:
            chosen: Waiver | None = None
            for waiver in self.entries:
                if not waiver.matches(finding, pair_id):
                    continue
                with self._lock:
                    self._hits[waiver.index] = self._hits.get(waiver.index, 0) + 1
                if chosen is None and not waiver.is_expired(self.today):
                    chosen = waiver
            if chosen is None:
                failing.append(finding)
            else:
                waived.append((finding, chosen))
        return failing, waived

    def hits(self, waiver: Waiver) -> int:
        """How many findings this waiver matched so far in this run."""
        with self._lock:
            return self._hits.get(waiver.index, 0)

    def usage(self) -> dict[int, int]:
        """Match counts by entry index: plain data that pytest-xdist workers can send to the controller."""
        with self._lock:
            return dict(self._hits)

    def merge_usage(self, counts: Mapping[int, int]) -> None:
        """Add match counts recorded elsewhere (another xdist worker) before judging staleness."""
        with self._lock:
            for index, count in counts.items():
                self._hits[int(index)] = self._hits.get(int(index), 0) + int(count)

    def expired(self, today: date | None = None) -> list[Waiver]:
        """Waivers past their date: they no longer waive anything and must be renewed or deleted."""
        day = self.today if today is None else today
        return [w for w in self.entries if w.is_expired(day)]

    def stale(self, pairs_run: Collection[str] | None = None) -> list[Waiver]:
        """Active waivers that matched no finding: the gap was fixed, so the entry should go.

        Optional waivers (patterns not every configuration renders) are never stale. With
        ``pairs_run`` only waivers whose pair pattern covers at least one pair that ran are judged
        (a ``large-*`` waiver says nothing in a ``-k small`` run); without it the whole matrix is
        assumed to have run. Expired waivers are reported by ``expired()`` instead.
        """
        out = []
        for waiver in self.entries:
            if waiver.optional or waiver.is_expired(self.today) or self.hits(waiver):
                continue
            if pairs_run is not None and not any(fnmatchcase(p, waiver.pair) for p in pairs_run):
                continue
            out.append(waiver)
        return out


# -- loading ---------------------------------------------------------------------------------------

def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _compose(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse once into both the data and the node tree, so errors can name lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RefarchError(f"Cannot read the waivers file {path}: {exc.strerror or exc}. Check the path given "
                           "to --refarch-waivers, or remove the option to run without waivers.") from exc
    loader = _WaiverLoader(text)
    try:
        node = loader.get_single_node()
        why = yaml_limits.problem(node)
        if why:
            raise RefarchError(f"The waivers file {path} is refused: {why}. Waivers files are bounded to "
                               f"{yaml_limits.LIMITS_TEXT}.")
        data = loader.construct_document(node) if node is not None else None
    except yaml_limits.YamlLimitError as exc:
        raise RefarchError(f"The waivers file {path} is refused: {exc}.") from None
    except yaml.YAMLError as exc:
        raise RefarchError(f"The waivers file {path} is not valid YAML ({yaml_problem(exc)}). Fix the file "
                           "(yamllint points at the line); see fixtures/waivers.example.yaml for the format.") from exc
    finally:
        loader.dispose()
    return data, node


def _value_nodes(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _parse_expires(value: Any, where: str) -> date | None:
    """Accept only YYYY-MM-DD; a timestamp is refused because a waiver expires per day, not per hour."""
    if value is None:
        return None
    if isinstance(value, date):  # only reachable with a loader that builds dates itself
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            raise RefarchError(f"{where}: 'expires' is a timestamp ({value}); write a date such as "
                               f"{stamp.date().isoformat()} (the last day the waiver applies).")
    raise RefarchError(f"{where}: 'expires' is {value!r}, not an ISO date. Write it as YYYY-MM-DD, e.g. "
                       "expires: 2026-06-30 (the last day the waiver applies), or delete the key for no expiry.")


def _parse_entry(raw: Any, node: yaml.Node | None, index: int, path: Path) -> Waiver:
    line = _line(node)
    where = f"Waivers file {path}, entry {index + 1}" + (f" (line {line})" if line else "")
    if not isinstance(raw, dict):
        raise RefarchError(f"{where} is a {type(raw).__name__}, not a mapping. Write each waiver as a mapping "
                           "with check, pair, workload, field (globs, default '*'), reason and optional expires.")
    unknown = sorted(str(k) for k in raw if k not in ENTRY_KEYS)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, ENTRY_KEYS, n=1)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise RefarchError(f"{where} has unknown key(s) {', '.join(hints)}. Allowed keys: {', '.join(ENTRY_KEYS)}.")
    value_nodes = _value_nodes(node)

    def at(key: str) -> str:
        key_line = _line(value_nodes.get(key))
        return f"Waivers file {path}, entry {index + 1}" + (f" (line {key_line})" if key_line else "")

    patterns: dict[str, str] = {}
    for key in PATTERN_KEYS:
        value = raw.get(key, "*")
        if not isinstance(value, str) or not value:
            raise RefarchError(f"{at(key)}: '{key}' is {value!r}; it must be a non-empty string glob such as "
                               "'*' (quote values YAML would read as numbers or booleans), or omit it to "
                               "match everything.")
        patterns[key] = value
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise RefarchError(f"{at('reason')}: 'reason' is {reason!r}, not text. Write a sentence saying why the gap "
                           "is accepted (quote it if YAML would read it as a number, date or boolean).")
    if not isinstance(reason, str) or not reason.strip():
        raise RefarchError(f"{at('reason') if 'reason' in raw else where} has no reason. Every waiver needs "
                           "'reason:' saying why the gap is accepted (a ticket, a decision); a waiver without "
                           "one cannot be reviewed.")
    expires = _parse_expires(raw.get("expires"), at("expires"))
    chart = raw.get("chart", "*")
    if not isinstance(chart, str) or not chart:
        raise RefarchError(f"{at('chart')}: 'chart' is {chart!r}; it must be a non-empty glob on the chart "
                           "name (the 'name' of Chart.yaml, e.g. harness), or omit it to apply to every chart.")
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise RefarchError(f"{at('optional')}: 'optional' is {optional!r}, not true or false. Write 'optional: true' "
                           "for a pattern that not every configuration renders (it then never goes stale), or "
                           "delete the key.")
    if all(set(value) <= {"*"} for value in patterns.values()):
        raise RefarchError(f"{where} matches every finding: it sets none of {', '.join(PATTERN_KEYS)} (or only "
                           "'*'), so it would waive everything, new problems included. Name at least the check "
                           "(e.g. 'check: resources') and narrow it by pair, workload or field.")
    return Waiver(check=patterns["check"], pair=patterns["pair"], workload=patterns["workload"],
                  field=patterns["field"], reason=reason.strip(), expires=expires, chart=chart,
                  optional=optional, source=str(path), line=line, index=index)


def load_waivers(path: Path, today: date | None = None, chart: str | None = None,
                 known: Collection[str] | None = None) -> Waivers:
    """Read and validate a waivers file; every mistake is one RefarchError naming the entry and the fix.

    With ``chart`` (the chart name under test) only the waivers whose ``chart`` glob matches it
    are active; the others are validated but neither waive nor go stale. With ``known`` (the
    finding ids the registered checks report) a ``check`` pattern that matches none of them is
    a mistake: such a waiver could never waive anything.
    """
    data, node = _compose(path)
    if data is None:
        return Waivers((), today or date.today(), str(path))
    if not isinstance(data, dict) or TOP_KEY not in data:
        raise RefarchError(f"The waivers file {path} must be a mapping with one key '{TOP_KEY}:' holding a list "
                           "of waivers; see fixtures/waivers.example.yaml.")
    extra = sorted(str(k) for k in data if k != TOP_KEY)
    if extra:
        raise RefarchError(f"The waivers file {path} has unknown top-level key(s) {', '.join(extra)}. Only "
                           f"'{TOP_KEY}:' is allowed; indent entries under it as a list ('- check: ...').")
    items = data[TOP_KEY] or []
    list_node = _value_nodes(node).get(TOP_KEY)
    if not isinstance(items, list):
        raise RefarchError(f"The waivers file {path}: '{TOP_KEY}' (line {_line(list_node)}) is a "
                           f"{type(items).__name__}, not a list. Start each waiver with '- '.")
    item_nodes = list(list_node.value) if isinstance(list_node, yaml.SequenceNode) else []
    entries: list[Waiver] = []
    seen: dict[tuple[str, ...], Waiver] = {}
    for index, raw in enumerate(items):
        item_node = item_nodes[index] if index < len(item_nodes) else None
        waiver = _parse_entry(raw, item_node, index, path)
        key = (waiver.check, waiver.pair, waiver.workload, waiver.field, waiver.chart)
        if key in seen:
            first = seen[key]
            raise RefarchError(f"Waivers file {path}, entry {index + 1} (line {waiver.line}) repeats the patterns "
                               f"of entry {first.index + 1} (line {first.line}). Delete one of them, or merge the "
                               "reasons into one entry.")
        seen[key] = waiver
        if known is not None:
            _check_known(waiver, known)
        if chart is None or fnmatchcase(chart, waiver.chart):
            entries.append(waiver)
    return Waivers(tuple(entries), today or date.today(), str(path))


def _check_known(waiver: Waiver, known: Collection[str]) -> None:
    if any(fnmatchcase(check_id, waiver.check) for check_id in known):
        return
    close = difflib.get_close_matches(waiver.check, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise RefarchError(f"Waivers file {waiver.source}, entry {waiver.index + 1} (line {waiver.line}): check "
                       f"'{waiver.check}' matches no check id of the suite{hint}, so it could never waive anything. "
                       "A waiver's check is the id in brackets before a finding ('[resources] ...'); the ids are "
                       f"{', '.join(sorted(known))}.")


# -- baseline --------------------------------------------------------------------------------------

def glob_escape(text: str) -> str:
    """A glob that matches exactly ``text``: each of ``[``, ``*``, ``?`` is wrapped in brackets."""
    return "".join(_GLOB_ESCAPES.get(ch, ch) for ch in text)


def baseline(entries: Iterable[tuple[str, Finding]], today: date | None = None) -> str:
    """YAML for a waivers file with one exact entry per current (pair id, finding).

    Only check, pair, workload and field are written, never expected/actual, which may hold
    (masked) connection strings. Sorted and de-duplicated, so re-running on an unchanged chart
    gives byte-identical output and a reviewable diff.
    """
    day = (today or date.today()).isoformat()
    keys = sorted({(f.check, pair_id, f.workload, f.field) for pair_id, f in entries})
    reason = f"baseline: recorded {day}, fix or justify"
    doc = {TOP_KEY: [{"check": glob_escape(c), "pair": glob_escape(p), "workload": glob_escape(w),
                      "field": glob_escape(f), "reason": reason} for c, p, w, f in keys]}
    body = yaml.dump(doc, Dumper=SAFE_DUMPER, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1_000_000)
    header = (f"# Waivers baseline written by harness-refarch on {day}: {len(keys)} known finding(s).\n"
              "# Each entry waives exactly one finding. Fix the finding and delete its entry, or replace the\n"
              "# reason with a real justification (and add 'expires: YYYY-MM-DD').\n")
    return header + body


