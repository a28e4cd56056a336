"""Golden expectations: per workload replicas, HPA bounds, requests and limits, storage.

``snapshot`` records them from a render (``--refarch-update``); ``compare`` diffs a render
against the recorded file with deepdiff, workload by workload and field by field, so that a
change to every workload still names every workload. Workloads are keyed by their normalised
identity (helm-generated random name parts removed), so a hook Job called ``migrate-x7k2p``
today and ``migrate-q9z1m`` tomorrow is the same entry.

A golden file records the chart it was recorded on (``chart: {name, version, digest}``, the
digest being the render store's content digest of the chart). Against a chart of another name
or version the file is not compared at all: :func:`file_findings` says so once per file and
:func:`chart_problem` gives every per-workload test one finding pointing there, instead of one
symptom per workload and field. A file written before the header existed is still compared,
with one finding asking to re-record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness_refarch.checks.registry import Context, check
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import write_atomic
from harness_refarch.model.findings import Finding
from harness_refarch.model.identity import Volatility
from harness_refarch.model.identity import key_identity as identity
from harness_refarch.model.manifest import SAFE_LOADER, Manifest, yaml_problem

CHECK = "golden"
HINT = "if intended, record it with --refarch-update and review the diff"
HEADER = "chart"  # the key of a golden file that says which chart it was recorded on
ROOT_CAUSE = "refarch_golden_cause"  # user property of a test failed by its golden file, not its workload
CATEGORY = "failed (golden file)"
FILE = "golden file"  # the workload of a finding about a pair's golden file as a whole
POINTER = ("golden file", "compared with its golden entry")  # field, expected of a per-workload pointer


def pointer(workload: str, problem: str) -> Finding:
    """A per-workload golden test's one finding when its pair's golden file cannot be compared at
    all (``problem``: missing, another chart's, pointing at ``test_golden_workloads``)."""
    return Finding(CHECK, workload, *POINTER, problem)


def is_pointer(finding: Finding) -> bool:
    """Whether ``finding`` only repeats, for one workload, what its pair's golden file finding says."""
    return finding.check == CHECK and finding.workload != FILE and (finding.field, finding.expected) == POINTER


@dataclass(frozen=True)
class ChartStamp:
    """Which chart a golden file was recorded on: Chart.yaml's name and version, and a digest of
    every file of the chart."""

    name: str
    version: str
    digest: str = ""

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "digest": self.digest}

    def same_chart(self, other: ChartStamp) -> bool:
        """Same name and version: the golden file is about this chart (its content may differ)."""
        return (self.name, self.version) == (other.name, other.version)


def stamp(doc: dict[str, Any], path: Path) -> ChartStamp | None:
    """The chart a loaded golden file was recorded on; None for a file without the header."""
    header = doc.get(HEADER)
    if header is None:
        return None
    if not isinstance(header, dict) or not header.get("name") or header.get("version") in (None, ""):
        raise RefarchError(f"The golden file {path} has a malformed '{HEADER}' header (it needs name, version "
                           "and digest). Re-record it with `--refarch-update` "
                           "(`pytest` or `harness-refarch check`), then review the diff.")
    return ChartStamp(str(header["name"]), str(header["version"]), str(header.get("digest") or ""))


PACKAGE = Path(__file__).resolve().parents[1]  # the installed harness_refarch package (or src/ of a checkout)


def check_recordable(root: Path, package: Path = PACKAGE) -> None:
    """``--refarch-update`` never writes into the installed package: golden files there (the
    wheel's ``data/fixtures/golden``) are in ``site-packages``, where nobody reviews or commits
    them. One paragraph saying where to keep them instead."""
    target = Path(root).expanduser().resolve()
    if target.is_relative_to(package.resolve()):
        raise RefarchError(
            f"--refarch-update would write golden files into the installed harness-refarch package ({target}), "
            "where nobody can review or commit them. Keep them in your chart repository: set 'golden: "
            "refarch/golden' in its .harness-refarch.yaml (or [tool.harness-refarch] in pyproject.toml; "
            "`harness-refarch init` writes one), or pass --refarch-golden DIR.")


def _how_to_record(current: ChartStamp) -> str:
    return (f"if {current} replaces that chart, re-record them with `pytest --chart-path <this chart> "
            "--refarch-update` and review the diff; to keep both, record into a copy of the fixtures directory "
            "(--refarch-fixtures DIR --refarch-update)")


def chart_problem(path: Path, doc: dict[str, Any] | None, current: ChartStamp, pair_id: str) -> str:
    """One line for a per-workload golden test whose golden file cannot be compared at all
    (missing, or recorded on another chart); empty when the file applies to this chart."""
    see = f"see test_golden_workloads[{pair_id}]"
    if doc is None:
        return f"no golden file {path}: the render is not compared to recorded expectations; {see}"
    recorded = stamp(doc, path)
    if recorded is not None and not recorded.same_chart(current):
        return (f"the golden file {path} belongs to another chart ({recorded}, this run renders {current}): "
                f"not compared; {see}")
    return ""


def file_findings(path: Path, doc: dict[str, Any] | None, current: ChartStamp) -> list[Finding]:
    """What is wrong with a pair's golden file as a whole: none, another chart's, no header."""
    if doc is None:
        return [Finding(CHECK, "golden file", str(path), "recorded expectations", "no file",
                        "run with --refarch-update (`pytest` or `harness-refarch check`), then review and commit it")]
    recorded = stamp(doc, path)
    if recorded is None:
        return [Finding(CHECK, "golden file", str(path), f"a '{HEADER}' header naming the chart it was recorded on",
                        "none (written by an older harness-refarch; its workloads are compared anyway)",
                        f"re-record it on the chart it belongs to with --refarch-update to add the header; "
                        f"this run renders {current}")]
    if not recorded.same_chart(current):
        return [Finding(CHECK, "golden file", str(path), f"expectations recorded on the chart under test ({current})",
                        f"recorded on another chart ({recorded}); not compared, so no workload is judged against it",
                        _how_to_record(current))]
    return []


def hint(path: Path, doc: dict[str, Any], current: ChartStamp) -> str:
    """The hint of a difference: when the chart's content changed since recording, say so."""
    recorded = stamp(doc, path)
    if recorded is not None and recorded.digest and current.digest and recorded.digest != current.digest:
        return f"{HINT}; the chart's content changed since the file was recorded"
    return HINT


def snapshot(manifest: Manifest, volatility: Volatility | None = None) -> dict[str, Any]:
    workloads: dict[str, Any] = {}
    for w in sorted(manifest.workloads.values(), key=lambda w: w.key):
        entry: dict[str, Any] = {"replicas": w.replicas, "stateful": w.stateful,
                                 "jvm": any("MEMORY" in c.env for c in w.main_containers)}
        if w.hpa is not None:
            entry["hpa"] = {"min": w.hpa.spec.get("minReplicas", 1), "max": w.hpa.spec.get("maxReplicas")}
        entry["containers"] = {
            c.name: {section: {k: str(v) for k, v in sorted((c.resources.get(section) or {}).items())}
                     for section in ("requests", "limits")}
            for c in w.containers
        }
        storage = {}
        for vct in w.volume_claim_templates:
            size = (((vct.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
            storage[str((vct.get("metadata") or {}).get("name", ""))] = str(size)
        if storage:
            entry["storage"] = storage
        workloads[volatility.normalise(w.key) if volatility else identity(w.key)] = entry
    return {"workloads": workloads}


def _show(value: Any) -> str:
    """A whole value, never cut mid-value (a mapping is shown as compact YAML flow)."""
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=True, width=10_000).strip()
    return str(value)


def compare_workload(key: str, expected: Any, actual: Any, hint: str = HINT) -> list[Finding]:
    """Field-by-field differences of one workload's golden entry."""
    from deepdiff import DeepDiff  # on first use: an unchanged render never needs it

    out = []
    # threshold_to_diff_deeper=0: report key by key even when two mappings share nothing
    diff = DeepDiff(expected or {}, actual or {}, view="tree", ignore_order=True, threshold_to_diff_deeper=0)
    for change_type, items in diff.items():
        for item in items:
            path = item.path(output_format="list")
            field = ".".join(str(p) for p in path) or "(whole entry)"
            if change_type.endswith("_added"):
                exp, act = "absent", _show(item.t2)
            elif change_type.endswith("_removed"):
                exp, act = _show(item.t1), "absent"
            else:
                exp, act = _show(item.t1), _show(item.t2)
            out.append(Finding(CHECK, key, field, exp, act, hint))
    return out


def compare(expected: dict[str, Any], actual: dict[str, Any],
            volatility: Volatility | None = None) -> list[Finding]:
    """Every workload recorded but not rendered, rendered but not recorded, and every changed field.

    With ``volatility`` (learned from two renders of identical inputs), recorded keys are
    normalised too, so a golden file written before a name was known to be random still matches.
    """
    norm = volatility.normalise if volatility is not None else (lambda key: key)
    want = {norm(k): v for k, v in (expected.get("workloads") or {}).items()}
    have = {norm(k): v for k, v in (actual.get("workloads") or {}).items()}
    out = []
    for key in sorted(set(want) - set(have)):
        out.append(Finding(CHECK, key, "workload", "rendered (recorded in the golden file)",
                           "not in the render", HINT))
    for key in sorted(set(have) - set(want)):
        out.append(Finding(CHECK, key, "workload", "absent (not in the golden file)", "rendered", HINT))
    for key in sorted(set(want) & set(have)):
        if want[key] != have[key]:  # deepdiff only where something changed
            out += compare_workload(key, want[key], have[key])
    return out


def recorded_not_rendered(expected: dict[str, Any], actual: dict[str, Any],
                          volatility: Volatility | None = None, hint: str = HINT) -> list[Finding]:
    """Workloads the golden file records that the render lacks (the pair-level golden test)."""
    norm = volatility.normalise if volatility is not None else (lambda key: key)
    have = {norm(k) for k in actual.get("workloads") or {}}
    return [Finding(CHECK, key, "workload", "rendered (recorded in the golden file)", "not in the render", hint)
            for key in sorted({norm(k) for k in expected.get("workloads") or {}} - have)]


def compare_one(workload: str, keys: list[str], expected: dict[str, Any], actual: dict[str, Any],
                volatility: Volatility | None = None, hint: str = HINT) -> list[Finding]:
    """The per-workload golden test: the rendered workload(s) ``keys`` (raw ``Kind/name``) that the
    test ``workload`` is about, against their golden entries. Every finding names ``workload``, so
    a workload the golden file lacks always fails its test, whatever its key normalises to."""
    norm = volatility.normalise if volatility is not None else identity
    want = {norm(k): v for k, v in (expected.get("workloads") or {}).items()}
    have = {norm(k): v for k, v in (actual.get("workloads") or {}).items()}
    if not keys:
        return [Finding(CHECK, workload, "workload", "rendered", "not in the render", hint)]
    out = []
    for key in sorted({norm(k) for k in keys}):
        if key not in want:
            shown = "" if key == workload else f" (as {key})"
            out.append(Finding(CHECK, workload, "workload", "recorded in the golden file",
                               f"not in the golden file{shown}", hint))
        elif key not in have:  # pragma: no cover - keys come from the render that made ``actual``
            out.append(Finding(CHECK, workload, "workload", "rendered", "not in the render", hint))
        elif want[key] != have[key]:
            out += compare_workload(workload, want[key], have[key], hint)
    return out


def load(path: Path) -> dict[str, Any] | None:
    """A golden file, or None if there is none; a malformed one is an error naming the file."""
    if not path.is_file():
        return None
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RefarchError(f"The golden file {path} is truncated or malformed ({yaml_problem(exc)}). "
                           "Re-record it with `--refarch-update` "
                           "(`pytest` or `harness-refarch check`), then review the diff.") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("workloads", {}), dict):
        raise RefarchError(f"The golden file {path} does not hold a 'workloads' mapping. Re-record it "
                           "with `--refarch-update` (`pytest` or `harness-refarch check`), then review the diff.")
    stamp(doc, path)  # a malformed header is an error naming the file, here
    return doc


def record(path: Path, pair: Pair, snap: dict[str, Any], chart: ChartStamp) -> str:
    """Write ``snap`` as the golden file of ``pair``, recorded on ``chart``; say what happened
    (created, updated with what changed, unchanged)."""
    try:
        old = load(path)
    except RefarchError:
        old = {"workloads": {"(malformed file)": {}}}
    new = {HEADER: chart.as_dict(), **snap}
    if old is not None and old.get("workloads") == snap["workloads"] and old.get(HEADER) == new[HEADER]:
        return "unchanged"
    header = (f"# Golden expectations for profile {pair.profile.name}, architecture "
              f"{pair.architecture.name}, recorded on chart {chart}.\n# Recorded with --refarch-update; review "
              "every change to this file like code.\n")
    write_atomic(path, header + yaml.safe_dump(new, sort_keys=True))
    if old is None:
        return "created"
    notes = []
    before_chart = old.get(HEADER)
    if not isinstance(before_chart, dict):
        notes.append(f"chart header added: {chart}")
    elif (before_chart.get("name"), str(before_chart.get("version"))) != (chart.name, chart.version):
        notes.append(f"was recorded on {before_chart.get('name')} {before_chart.get('version')}, now {chart}")
    elif before_chart.get("digest") != chart.digest:
        notes.append("chart content digest")
    before, after = old.get("workloads") or {}, snap["workloads"]
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        notes.append(", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else ""))
    return f"updated ({'; '.join(notes)})"


# -- the golden checks: the run keeps the golden files (recording them under --refarch-update) ------
@check("golden_workloads", findings=(CHECK,), context=True,
       doc="The golden file exists, is readable, was recorded on this chart (name and version; said here once "
           "when not), and every workload it records is rendered.")
def golden_workloads(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    return ctx.golden_findings(pair, manifest)


def _cause(ctx: Context, pair: Pair) -> str:
    """A golden file that cannot be compared at all fails every workload's test of the pair for one
    reason: counted apart in the summary, like render failures."""
    return ROOT_CAUSE if ctx.golden_problem(pair) else ""


@check("matches_golden", findings=(CHECK,), workloads="all", workload_arg=True, context=True, cause=_cause,
       doc="This workload has a golden entry and matches it; a golden file that cannot be compared at all fails "
           "this test with one finding pointing at test_golden_workloads.")
def matches_golden(ctx: Context, pair: Pair, manifest: Manifest, workload: str) -> list[Finding]:
    return ctx.golden_workload_findings(pair, manifest, workload)
