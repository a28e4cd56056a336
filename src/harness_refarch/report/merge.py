"""``harness-refarch merge``: the JSON reports of N shards as the results of one run.

Each shard of a CI matrix (``pytest --refarch-shard K/N --refarch-report shard-K.json``) writes
a JSON report whose ``run`` block (:mod:`harness_refarch.plugin.shard`) says which shard it is,
what its verdicts depend on and what root causes need beyond the results. Merging checks that
the reports are the N shards of one run (same chart, options, suite and helm; every shard once;
together exactly the matrix), then combines them into what a single-machine run reports: the
same test results in the order one run lists them, the same findings, the capacity rows in
catalogue order, the same root causes, hence the same SARIF; and a JUnit file with the same
test cases and outcomes. The gate fails (exit 1) when any test failed or errored, or a waiver
is expired or (for an unfiltered run) stale; bad input is one paragraph and exit 4.

Nothing here renders or reads the chart: the merge job needs the reports only.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness_refarch.checks.severities import Gate, Severities
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.report.capacity import NodePlan, NodeShape, NodeUsage
from harness_refarch.report.data import OUTCOMES, CapacityRow, PairResult, ReportData, TestResult
from harness_refarch.report.document import SCHEMA
from harness_refarch.report.rootcauses import Location, RootCause, Source, build, listing, pair_summary

FAILING = ("fail", "error")
_FINDING_KEYS = ("check", "workload", "field", "expected", "actual", "hint", "source")


@dataclass
class ShardReport:
    """One shard's JSON report: the document and its run block."""

    path: Path
    doc: dict[str, Any]

    @property
    def run(self) -> dict[str, Any]:
        run: dict[str, Any] = self.doc["run"]
        return run

    @property
    def label(self) -> str:
        return f"{self.path.name} (shard {self.run['shard']['index']}/{self.run['shard']['count']})"


@dataclass
class Merged:
    """One run's results, rebuilt from its shards."""

    data: ReportData
    gate: Gate
    causes: list[RootCause]
    pair_order: list[str]
    profiles: dict[str, str]
    problems: list[str] = field(default_factory=list)
    shards: int = 0
    architectures: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(r.outcome in FAILING for r in self.data.results)

    def pair_text(self, rc: RootCause) -> str:
        return pair_summary(rc.pairs, self.pair_order, self.profiles)


# -- reading ------------------------------------------------------------------------------------------
def load(path: Path) -> ShardReport:
    """A shard's JSON report, or one paragraph saying what is wrong with the file."""
    how = ("Pass the JSON reports that `pytest --refarch-shard K/N --refarch-report shard-K.json` wrote, one "
           "per shard (harness-refarch writes JSON when the report's name ends in .json).")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RefarchError(f"Cannot read the shard report {path}: {exc.strerror or exc}. {how}") from None
    except UnicodeDecodeError:
        raise RefarchError(f"The shard report {path} is not UTF-8 text. {how}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RefarchError(f"The shard report {path} is not JSON ({exc}). {how}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        schema = doc.get("schema") if isinstance(doc, dict) else None
        raise RefarchError(f"{path} is not a harness-refarch JSON report of schema {SCHEMA} (it says "
                           f"{schema!r}). {how}")
    run = doc.get("run")
    if not isinstance(run, dict) or run.get("format") != 1 or not _shape_ok(doc):
        raise RefarchError(f"{path} is a harness-refarch JSON report without the run block that merging needs "
                           "(written by an older version, edited, or truncated). Write the shards' reports with "
                           f"this version of harness-refarch. {how}")
    return ShardReport(path, doc)


def _shape_ok(doc: Mapping[str, Any]) -> bool:
    run = doc["run"]
    shard = run.get("shard")
    try:
        return (isinstance(run.get("identity"), dict) and isinstance(shard, dict)
                and isinstance(shard.get("index"), int) and isinstance(shard.get("count"), int)
                and 1 <= shard["index"] <= shard["count"] and isinstance(shard.get("pairs"), list)
                and isinstance(run.get("matrix"), list) and isinstance(run.get("selected"), list)
                and isinstance(run.get("order"), dict) and isinstance(run.get("gate"), dict)
                and isinstance(run.get("root_causes"), dict) and isinstance(run.get("waivers"), dict)
                and isinstance(doc.get("results"), list) and isinstance(doc.get("pairs"), list))
    except (TypeError, KeyError):
        return False


def _finding(raw: Mapping[str, Any]) -> Finding:
    return Finding(**{k: str(raw.get(k) or "") for k in _FINDING_KEYS})


def _plan(raw: Mapping[str, Any]) -> NodePlan:
    shape = raw["shape"]
    return NodePlan(
        shape=NodeShape(float(shape["cpu"]), int(shape["memory"]), int(shape["max_pods"]), str(shape["label"])),
        reserve=float(raw["reserve"]), nodes=int(raw["nodes"]),
        allocatable_cpu=float(raw["allocatable"]["cpu"]), allocatable_memory=int(raw["allocatable"]["memory"]),
        usage=tuple(NodeUsage(float(u["cpu"]), int(u["memory"]), tuple(u["pods"])) for u in raw["per_node"]),
        unschedulable=tuple(_finding(f) for f in raw["unschedulable"]), binding=str(raw["binding"]),
        binding_detail=str(raw["binding_detail"]), pods=int(raw["pods"]))


def report_data(doc: Mapping[str, Any]) -> ReportData:
    """The :class:`ReportData` a JSON report was written from (``render_json`` gives it back)."""
    pairs = []
    for p in doc["pairs"]:
        c = p["capacity"]
        row = CapacityRow(int(c["workloads"]), int(c["pods"]), int(c["replicas"]), float(c["cpu_requested"]),
                          float(c["cpu_limited"]), int(c["memory_requested"]), int(c["memory_limited"]),
                          int(c["storage"]), int(c["cpu_unlimited_pods"]), int(c["memory_unlimited_pods"]))
        pairs.append(PairResult(str(p["pair"]), str(p["profile"]), str(p["architecture"]), row,
                                {label: _plan(plan) for label, plan in p["plans"].items()}))
    results = [TestResult(test_id=str(r["test_id"]), pair_id=str(r["pair"]), check=str(r["check"]),
                          workload=str(r["workload"]), outcome=str(r["outcome"]), message=str(r["message"]),
                          findings=tuple(_finding(f) for f in r["findings"]), waiver_reason=str(r["waiver_reason"]))
               for r in doc["results"]]
    minimum = doc.get("documented_minimum") or {}
    return ReportData(
        chart=str(doc["chart"]), chart_name=str(doc.get("chart_name") or ""),
        chart_dir=str((doc.get("run") or {}).get("chart_dir") or ""),
        chart_version=str(doc["chart_version"]), kube_version=str(doc["kube_version"]),
        helm_version=str(doc["helm_version"]), generated_at=str(doc["generated_at"]), pairs=pairs, results=results,
        minimum_cpu=minimum.get("cpu"), minimum_memory=minimum.get("memory"),
        minimum_label=str(minimum.get("label", "")), run=doc.get("run"))


# -- checking that the shards belong together ---------------------------------------------------------
def _differs(a: Any, b: Any, prefix: str = "") -> str | None:
    """The first key (dotted) whose value differs between two identity mappings."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = _differs(a.get(key), b.get(key), f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    return None if a == b else prefix.rstrip(".")


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def check(shards: Sequence[ShardReport]) -> None:
    """The reports are the shards of one run, each once, together covering its matrix exactly."""
    if not shards:
        raise RefarchError("No shard report given. Pass every shard's JSON report: harness-refarch merge "
                           "shard-1.json shard-2.json ... --refarch-report report.html")
    first = shards[0]
    for other in shards[1:]:
        key = _differs(first.run["identity"], other.run["identity"])
        if key is None and first.run["matrix"] != other.run["matrix"]:
            key = "matrix"
        if key is not None:
            a, b = _lookup(first.run, key), _lookup(other.run, key)
            raise RefarchError(
                f"{other.label} and {first.label} are not shards of one run: their {key} differs "
                f"({_shown(b)} against {_shown(a)}). Merge the reports of one run only: every shard on the same "
                "commit of the chart and fixtures, with the same options, harness-refarch and helm versions.")
    count = first.run["shard"]["count"]
    other_counts = [s for s in shards if s.run["shard"]["count"] != count]
    if other_counts:
        raise RefarchError(f"{other_counts[0].label} and {first.label} split the run differently (into "
                           f"{other_counts[0].run['shard']['count']} and {count} shards). Merge the shards of one "
                           "split: run every K of one --refarch-shard K/N.")
    seen: dict[int, ShardReport] = {}
    for s in shards:
        index = s.run["shard"]["index"]
        if index in seen:
            raise RefarchError(f"{s.label} and {seen[index].label} are the same shard; pass each shard's "
                               "report once.")
        seen[index] = s
    missing = [k for k in range(1, count + 1) if k not in seen]
    if missing:
        shown = ", ".join(f"{k}/{count}" for k in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise RefarchError(f"Shard(s) {shown} missing: {len(shards)} of {count} shard reports given. The merged "
                           "gate needs every shard; rerun the missing shard jobs (or the whole matrix) and pass "
                           "all their reports.")
    matrix = [p["pair"] for p in first.run["matrix"]]
    owner: dict[str, ShardReport] = {}
    for s in sorted(shards, key=lambda s: s.run["shard"]["index"]):
        for pair in s.run["shard"]["pairs"]:
            if pair in owner:
                raise RefarchError(f"{s.label} and {owner[pair].label} both ran pair {pair}: overlapping shards "
                                   "cannot be merged into one run.")
            owner[pair] = s
    uncovered = [p for p in matrix if p not in owner]
    if uncovered or set(owner) - set(matrix):
        raise RefarchError(f"The shards do not cover the run's matrix of {len(matrix)} pairs exactly (not run: "
                           f"{', '.join(uncovered) or 'none'}; not in the matrix: "
                           f"{', '.join(sorted(set(owner) - set(matrix))) or 'none'}). Merge the reports of one run.")


def _lookup(run: Mapping[str, Any], key: str) -> Any:
    node: Any = run["identity"] if key != "matrix" else run
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


# -- merging ----------------------------------------------------------------------------------------------
def _result_key(r: TestResult, order: Mapping[str, Sequence[int]], pairs: Mapping[str, int]) -> tuple[Any, ...]:
    """Where one run lists a result: readiness class, module, place of its test function in the
    module, then the pair in catalogue order and the workload id (parametrisation order)."""
    function = r.test_id.partition("[")[0]
    place = order.get(function)
    return (0 if place is not None else 1, *(place or (0, 0, 0)), function if place is None else "",
            pairs.get(r.pair_id, len(pairs)), r.workload, r.test_id)


def merge(shards: Sequence[ShardReport], base: Path) -> Merged:
    """The shards (checked with :func:`check`) as one run's results and root causes."""
    check(shards)
    shards = sorted(shards, key=lambda s: s.run["shard"]["index"])
    try:
        datas = [report_data(s.doc) for s in shards]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RefarchError(f"A shard report is damaged ({type(exc).__name__}: {exc}); write it again with "
                           "--refarch-report shard-K.json.") from None
    first = shards[0].run
    matrix = [p["pair"] for p in first["matrix"]]
    position = {p: i for i, p in enumerate(matrix)}
    profiles = {p["pair"]: p["profile"] for p in first["matrix"]}
    order: dict[str, list[int]] = {}
    for s in shards:
        for function, place in s.run["order"].items():
            order.setdefault(function, list(place))
    results = sorted((r for d in datas for r in d.results), key=lambda r: _result_key(r, order, position))
    pairs = sorted((p for d in datas for p in d.pairs), key=lambda p: position.get(p.pair_id, len(position)))
    selected = [p for p in matrix if any(p in s.run["selected"] for s in shards)]
    gate = _gate(first["gate"])
    causes_in = _cause_inputs(shards, base)
    found = list(dict.fromkeys((r.pair_id, f) for r in results for f in r.findings))
    causes = build(found, gate, pair_order=selected or matrix, layer_paths=dict.fromkeys(causes_in.origins, Path()),
                   normalise=causes_in.normalise, waiver_of=causes_in.waiver_of, locator=causes_in.locate)
    run = {**first, "shard": {"index": 1, "count": 1, "pairs": matrix}, "selected": selected,
           "order": dict(sorted(order.items())), "root_causes": causes_in.block(base),
           "waivers": _merged_waivers(shards)}
    data = replace(datas[0], results=results, pairs=pairs, run=run, root_causes=causes, severities=gate.severities,
                   generated_at=max(str(d.generated_at) for d in datas))
    architectures = {p["pair"]: p["architecture"] for p in first["matrix"]}
    return Merged(data, gate, causes, selected or matrix, profiles, _problems(run["waivers"]), len(shards),
                  architectures)


def _gate(raw: Mapping[str, Any]) -> Gate:
    severities = raw.get("severities") or {}
    return Gate(Severities({c: str(v["severity"]) for c, v in severities.items()},
                           {c: str(v.get("help") or "") for c, v in severities.items()}, "shard reports"),
                str(raw.get("fail_on") or "info"))


@dataclass
class _Causes:
    """What root causes need beyond the results, from every shard."""

    origins: list[str]
    locations: dict[str, str | None]
    fallback: str | None
    identities: dict[tuple[str, str], str]
    waived: dict[tuple[str, str, str, str], str]
    base: Path

    def normalise(self, pair: str, workload: str) -> str:
        return self.identities.get((pair, workload), workload)

    def waiver_of(self, pair: str, finding: Finding) -> str:
        return self.waived.get((pair, finding.check, finding.workload, finding.field), "")

    def _path(self, shown: str) -> Path:
        path = Path(shown)
        return path if path.is_absolute() else self.base / path

    def locate(self, source: Source) -> Location | None:
        shown = self.locations.get(source.origin) if source.origin else None
        if shown:
            return Location(self._path(shown), source.line)
        return Location(self._path(self.fallback), 0) if self.fallback else None

    def block(self, base: Path) -> dict[str, Any]:
        return {"base": str(base), "origins": self.origins, "locations": dict(sorted(self.locations.items())),
                "fallback": self.fallback,
                "identities": [[*k, v] for k, v in sorted(self.identities.items())],
                "waived": [[*k, v] for k, v in sorted(self.waived.items())]}


def _cause_inputs(shards: Iterable[ShardReport], base: Path) -> _Causes:
    out = _Causes([], {}, None, {}, {}, base)
    for s in shards:
        rc = s.run["root_causes"]
        out.origins = sorted({*out.origins, *rc.get("origins", [])})
        for origin, shown in rc.get("locations", {}).items():
            out.locations.setdefault(origin, shown)
        out.fallback = out.fallback or rc.get("fallback")
        out.identities.update({(p, w): i for p, w, i in rc.get("identities", [])})
        out.waived.update({(p, c, w, f): reason for p, c, w, f, reason in rc.get("waived", [])})
    return out


def _merged_waivers(shards: Sequence[ShardReport]) -> dict[str, Any]:
    entries = [dict(e) for e in shards[0].run["waivers"].get("entries", [])]
    for s in shards[1:]:
        for entry, other in zip(entries, s.run["waivers"].get("entries", []), strict=False):
            entry["used"] = bool(entry.get("used") or other.get("used"))
    return {"judged": all(s.run["waivers"].get("judged") for s in shards), "entries": entries}


def _problems(waivers: Mapping[str, Any]) -> list[str]:
    """What one run would add to its failures: expired waivers, and stale ones when it ran unfiltered."""
    out = [f"expired waiver {e['describe']}: {e['reason']} (renew it with a new date or fix the finding)"
           for e in waivers["entries"] if e.get("expired")]
    if waivers.get("judged"):
        out += [f"stale waiver {e['describe']}: it matches no finding any more; delete it"
                for e in waivers["entries"]
                if e.get("in_matrix") and not e.get("optional") and not e.get("expired") and not e.get("used")]
    return out


# -- JUnit ------------------------------------------------------------------------------------------------
def _junit_names(nodeid: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml derives them from a node id."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def junit_xml(merged: Merged) -> str:
    """A JUnit XML file with one test case per result, named as pytest's ``--junitxml`` names it."""
    results = merged.data.results
    counts = {o: sum(1 for r in results if r.outcome == o) for o in OUTCOMES}
    suites = ET.Element("testsuites", name="pytest tests")
    suite = ET.SubElement(suites, "testsuite", name="pytest", errors=str(counts["error"]),
                          failures=str(counts["fail"]), skipped=str(counts["skipped"] + counts["waived"]),
                          tests=str(len(results)), time="0")
    for r in results:
        classname, name = _junit_names(r.test_id)
        case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        props = [("pair", r.pair_id), ("profile", merged.profiles.get(r.pair_id, "")),
                 ("architecture", merged.architectures.get(r.pair_id, "")), ("check", r.check)]
        props += [("workload", r.workload)] if r.workload else []
        properties = ET.SubElement(case, "properties")
        for key, value in props:
            ET.SubElement(properties, "property", name=key, value=value)
        message = r.message.splitlines()[0] if r.message else ""
        if r.outcome == "fail":
            ET.SubElement(case, "failure", message=message).text = r.message
        elif r.outcome == "error":
            ET.SubElement(case, "error", message=message).text = r.message
        elif r.outcome == "waived":
            ET.SubElement(case, "skipped", type="pytest.xfail", message=r.message)
        elif r.outcome == "skipped":
            ET.SubElement(case, "skipped", type="pytest.skip", message=message).text = r.message
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(suites, encoding="unicode") + "\n"


# -- the command ----------------------------------------------------------------------------------------
def summary_lines(merged: Merged) -> list[str]:
    """What the merge prints: the run, the outcome counts, the root causes that fail, problems."""
    data = merged.data
    counts = {o: sum(1 for r in data.results if r.outcome == o) for o in OUTCOMES}
    identity = (data.run or {}).get("identity", {})
    lines = [f"harness-refarch merge: {merged.shards} shard(s) of one run of chart {identity.get('chart', data.chart)} "
             f"{identity.get('chart_version', data.chart_version)}: {len(merged.pair_order)} pair(s), "
             f"{len(data.results)} test(s): " + ", ".join(f"{n} {o}" for o, n in counts.items())]
    shown = [rc for rc in merged.causes if not rc.waiver]
    failing = [rc for rc in shown if rc.failing]
    if merged.causes:
        lines.append(f"harness-refarch merge: {len(shown)} root cause(s), {len(failing)} failing "
                     f"(--refarch-fail-on {merged.gate.fail_on}):")
        lines += listing(shown, merged.pair_text, indent="  ",
                         rest="the merged report (--refarch-report) and SARIF keep every one")
    lines += [f"harness-refarch merge: FAILED {p}" for p in merged.problems]
    return lines


def write_outputs(merged: Merged, base: Path, report: Path | None, sarif: Path | None,
                  junit: Path | None, write: Callable[[Path, str], None]) -> list[str]:
    """Write the asked outputs; one line per file written."""
    from harness_refarch.report import sarif as sarif_format
    from harness_refarch.report.document import report_format, write_report

    lines = []
    if report is not None:
        write_report(report, merged.data)
        lines.append(f"harness-refarch merge: {report_format(report).upper()} report written to {report}")
    if sarif is not None:
        identity = (merged.data.run or {}).get("identity", {})
        log = sarif_format.sarif_log(merged.causes, merged.gate.severities, base, merged.pair_text,
                                     chart=str(identity.get("chart", "")),
                                     chart_version=str(identity.get("chart_version", "")))
        write(sarif, sarif_format.dumps(log))
        lines.append(f"harness-refarch merge: SARIF written to {sarif}")
    if junit is not None:
        write(junit, junit_xml(merged))
        lines.append(f"harness-refarch merge: JUnit XML written to {junit}")
    return lines


def base_dir(environ: Mapping[str, str]) -> Path:
    """What SARIF paths are relative to: the repository under GitHub Actions, else the working directory
    (as the pytest plugin decides it)."""
    workspace = environ.get("GITHUB_WORKSPACE")
    if workspace and Path(workspace).is_dir():
        return Path(workspace).resolve()
    return Path.cwd().resolve()


def add_parser(sub: Any) -> None:
    """The ``merge`` subcommand of ``harness-refarch``."""
    merge_cmd = sub.add_parser(
        "merge", help="combine the JSON reports of --refarch-shard runs into one run's results",
        description="Combine the JSON reports of the N shards of one run (pytest --refarch-shard K/N "
                    "--refarch-report shard-K.json) into the results of a single-machine run: the same test outcomes, "
                    "findings, capacity rows, root causes and SARIF. Exit 0: the merged gate passes; 1: some test "
                    "failed or errored, or a waiver is expired or stale; 4: bad input (reports of different runs, "
                    "a shard missing or given twice).")
    merge_cmd.add_argument("shards", nargs="+", metavar="SHARD.json", help="every shard's JSON report")
    merge_cmd.add_argument("--refarch-report", metavar="PATH",
                           help="the merged report: HTML, Markdown when PATH ends in .md, JSON when .json")
    merge_cmd.add_argument("--refarch-sarif", metavar="FILE", help="the merged SARIF 2.1.0 (one result per root cause)")
    merge_cmd.add_argument("--junitxml", metavar="FILE", help="JUnit XML with one test case per test of the run")
    merge_cmd.set_defaults(handler=run)


def run(args: Any) -> int:
    """``harness-refarch merge``: check and merge the shards, write the outputs, print the summary."""
    import os
    import sys

    from harness_refarch.model.files import check_writable, write_atomic

    outputs = {flag: Path(value).expanduser().resolve() if value else None for flag, value in (
        ("--refarch-report", args.refarch_report), ("--refarch-sarif", args.refarch_sarif),
        ("--junitxml", args.junitxml))}
    for flag, path in outputs.items():
        if path is not None:
            check_writable(path, flag)
    shards = [load(Path(p).expanduser()) for p in args.shards]
    base = base_dir(os.environ)
    merged = merge(shards, base)
    lines = summary_lines(merged)
    lines += write_outputs(merged, base, outputs["--refarch-report"], outputs["--refarch-sarif"],
                           outputs["--junitxml"], write_atomic)
    lines.append(f"harness-refarch merge: gate {'FAILED (exit 1)' if merged.failed else 'passed (exit 0)'}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if merged.failed else 0
