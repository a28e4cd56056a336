"""Golden files know their chart, and every profile file is tested (issue 13, items 7 and 8).

End to end with a real helm: the conformance suite runs in a subprocess against copies of the
embedded chart (a new version, a hook Job with a random name, profile files renamed the way
older releases name them), with a render store of the test's own; outcomes come from JUnit XML.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness_refarch.cli import EXIT_OK, EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
FIXTURES = REPO / "fixtures"
LARGE_PAIR = ("--refarch-profile", "large", "--refarch-architecture", "prod-3-incluster")


@dataclass(frozen=True)
class Run:
    rc: int
    out: str
    outcomes: dict[str, str]  # test name with its id -> passed, failed, skipped
    messages: dict[str, str]  # failed test -> its failure message

    def named(self, test: str) -> dict[str, str]:
        return {k: v for k, v in self.outcomes.items() if k.split("[")[0] == test}


def run_suite(tmp_path: Path, helm: Path, *args: str, fixtures: Path = FIXTURES) -> Run:
    junit = tmp_path / f"junit-{len(list(tmp_path.glob('junit-*.xml')))}.xml"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k != "HELM_BIN"}
    env.update(PYTHONDONTWRITEBYTECODE="1", HARNESS_REFARCH_CACHE=str(tmp_path / "refarch-cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
         "-p", "no:randomly", "-q", "--refarch-fixtures", str(fixtures), "--refarch-helm", str(helm),
         f"--junitxml={junit}", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    outcomes: dict[str, str] = {}
    messages: dict[str, str] = {}
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            if failure is not None:
                outcomes[name] = "failed"
                messages[name] = (failure.text or "").strip()
            else:
                outcomes[name] = "skipped" if case.find("skipped") is not None else "passed"
    return Run(proc.returncode, proc.stdout + proc.stderr, outcomes, messages)


def fixtures_copy(tmp_path: Path) -> Path:
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    return target


def chart_copy(tmp_path: Path, name: str = "harness-prod") -> Path:
    target = tmp_path / "charts" / name
    shutil.copytree(CHART, target)
    return target


# -- 7. golden files know their chart ----------------------------------------------------------
def test_golden_files_of_another_chart_are_reported_once_not_per_symptom(tmp_path: Path, real_helm: Path) -> None:
    """A new version of the chart: the golden files (recorded on 0.1.0) are said once to belong
    to another chart, and every per-workload golden test fails with one line pointing there
    (counted apart in the summary). Before, the golden files were compared as if they were this
    chart's: here every test passed; on the released chart ~300 symptoms failed."""
    chart = chart_copy(tmp_path)
    meta = chart / "Chart.yaml"
    meta.write_text(meta.read_text().replace("\nversion: 0.1.0\n", "\nversion: 0.2.0\n", 1))
    run = run_suite(tmp_path, real_helm, "--chart-path", str(chart), *LARGE_PAIR, "-k", "golden")
    assert run.rc == 1, run.out[-3000:]
    assert run.named("test_golden_workloads") == {"test_golden_workloads[large-prod-3-incluster]": "failed"}
    message = run.messages["test_golden_workloads[large-prod-3-incluster]"]
    assert message.startswith("1 finding(s) for large-prod-3-incluster:"), message
    assert "recorded on another chart (harness-prod 0.1.0)" in message and "harness-prod 0.2.0" in message
    assert "--refarch-update" in message
    per_workload = run.named("test_matches_golden")
    assert len(per_workload) >= 20 and set(per_workload.values()) == {"failed"}, per_workload
    for test in per_workload:
        head, line = run.messages[test].splitlines()  # one finding, one line
        assert head.endswith(f"1 finding(s) for large-prod-3-incluster {test.split('-incluster-')[1][:-1]}:"), head
        assert "golden file: expected compared with its golden entry, got the golden file" in line, line
        assert "belongs to another chart (harness-prod 0.1.0" in line, line
        assert line.endswith("see test_golden_workloads[large-prod-3-incluster]"), line
    assert f"{len(per_workload)} failed (golden file)" in run.out, run.out[-2000:]
    assert "golden file(s) under" in run.out and "were recorded on another chart (harness-prod 0.1.0;" in run.out
    # findings like any other: a baseline accepts them, and the gated run is green
    baseline = tmp_path / "baseline.yaml"
    run_suite(tmp_path, real_helm, "--chart-path", str(chart), *LARGE_PAIR, "-k", "golden",
              "--refarch-baseline-update", str(baseline))
    gated = run_suite(tmp_path, real_helm, "--chart-path", str(chart), *LARGE_PAIR, "-k", "golden",
                      "--refarch-waivers", str(baseline))
    assert gated.rc == 0 and set(gated.outcomes.values()) == {"skipped"}, gated.out[-3000:]


def test_golden_files_of_another_chart_are_one_root_cause_each(tmp_path: Path, real_helm: Path) -> None:
    """Over two pairs, the root causes (terminal, report, SARIF) hold one cause per golden file,
    each naming its own file and pair. Before, each per-workload pointer was a root cause of its
    own across the pairs, naming the first pair's file for both (on the released chart: 45 golden
    causes, 24 of them naming demo.yaml for all 21 pairs)."""
    chart = chart_copy(tmp_path)
    meta = chart / "Chart.yaml"
    meta.write_text(meta.read_text().replace("\nversion: 0.1.0\n", "\nversion: 0.2.0\n", 1))
    report = tmp_path / "report.json"
    run = run_suite(tmp_path, real_helm, "--chart-path", str(chart), "--refarch-profile", "large",
                    "--refarch-architecture", "prod-1-incluster", "--refarch-architecture", "prod-3-incluster",
                    "-k", "golden", "--refarch-report", str(report))
    assert run.rc == 1, run.out[-3000:]
    per_workload = run.named("test_matches_golden")
    assert len(per_workload) >= 40 and set(per_workload.values()) == {"failed"}  # they still fail
    causes = json.loads(report.read_text())["root_causes"]
    assert [(c["workload"], c["field"], c["pairs"]) for c in causes] == [
        ("golden file", "fixtures/golden/large/prod-1-incluster.yaml", ["large-prod-1-incluster"]),
        ("golden file", "fixtures/golden/large/prod-3-incluster.yaml", ["large-prod-3-incluster"])], causes
    assert "2 root cause(s) of 2 finding(s)" in run.out, run.out[-3000:]


JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate-{{ randAlpha 6 | lower }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: harness/migrate:1.0.0
          resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 128Mi}}
"""


def test_a_workload_missing_from_the_golden_file_fails_its_test(tmp_path: Path, real_helm: Path) -> None:
    """A hook Job whose random suffix has no digit: its golden key (learned from a second render)
    differs from the name in its test id. With its entry removed from the golden file, its
    per-workload golden test must fail, not pass; re-recording puts it back."""
    chart = chart_copy(tmp_path)
    (chart / "templates" / "migrate-job.yaml").write_text(JOB)
    fixtures = fixtures_copy(tmp_path)
    args = ("--chart-path", str(chart), *LARGE_PAIR, "-k", "golden")
    record = run_suite(tmp_path, real_helm, *args, "--refarch-update", fixtures=fixtures)
    assert record.rc == 0, record.out[-3000:]
    path = fixtures / "golden/large/prod-3-incluster.yaml"
    recorded = path.read_text()
    doc = yaml.safe_load(recorded)
    assert "Job/harness-migrate-*" in doc["workloads"], sorted(doc["workloads"])
    del doc["workloads"]["Job/harness-migrate-*"]
    path.write_text(yaml.safe_dump(doc))

    run = run_suite(tmp_path, real_helm, *args, fixtures=fixtures)
    job_tests = {k: v for k, v in run.named("test_matches_golden").items() if "migrate" in k}
    assert list(job_tests.values()) == ["failed"], (job_tests, run.out[-3000:])
    [test] = job_tests
    assert "workload: expected recorded in the golden file, got not in the golden file" in run.messages[test]
    others = {k: v for k, v in run.named("test_matches_golden").items() if "migrate" not in k}
    assert others and set(others.values()) == {"passed"}, others
    assert run.named("test_golden_workloads") == {"test_golden_workloads[large-prod-3-incluster]": "passed"}


def test_a_golden_file_without_the_chart_header_is_compared_and_asks_for_it(tmp_path: Path,
                                                                            real_helm: Path) -> None:
    fixtures = fixtures_copy(tmp_path)
    path = fixtures / "golden/large/prod-3-incluster.yaml"
    original = path.read_text()
    doc = yaml.safe_load(original)
    del doc["chart"]
    path.write_text(yaml.safe_dump(doc))
    run = run_suite(tmp_path, real_helm, *LARGE_PAIR, "-k", "golden", fixtures=fixtures)
    assert run.named("test_golden_workloads") == {"test_golden_workloads[large-prod-3-incluster]": "failed"}
    assert "written by an older harness-refarch" in run.messages["test_golden_workloads[large-prod-3-incluster]"]
    assert set(run.named("test_matches_golden").values()) == {"passed"}  # still compared workload by workload
    update = run_suite(tmp_path, real_helm, *LARGE_PAIR, "-k", "golden", "--refarch-update", fixtures=fixtures)
    assert update.rc == 0, update.out[-3000:]
    assert "prod-3-incluster.yaml: updated (chart header added: harness-prod 0.1.0)" in update.out
    assert path.read_text() == original


# -- 8. every profile file is tested -----------------------------------------------------------
def older_release(tmp_path: Path) -> Path:
    """The embedded chart as releases up to 0.10 ship it: override-demo.yaml and override-prod.yaml."""
    chart = chart_copy(tmp_path)
    (chart / "override-large.yaml").rename(chart / "override-prod.yaml")
    for name in ("small", "medium"):
        (chart / f"override-{name}.yaml").unlink()
    return chart


def test_a_profile_without_figures_runs_the_production_architectures(tmp_path: Path, real_helm: Path) -> None:
    """override-prod.yaml (the large file under the older name) runs every check that needs no
    figures on the production architectures; test_profile_figures says once that its sizing is
    not judged. Before, prod matched no profile: only demo ran, and this selection was an error."""
    chart = older_release(tmp_path)
    run = run_suite(tmp_path, real_helm, "--chart-path", str(chart), "--refarch-architecture", "demo",
                    "--refarch-architecture", "prod-3-incluster", "--refarch-architecture", "dr-warm-standby")
    assert set(run.named("test_helm_lint")) == {"test_helm_lint[demo-demo]", "test_helm_lint[prod-prod-3-incluster]",
                                                 "test_helm_lint[prod-dr-warm-standby]"}, run.out[-3000:]
    checks = {name.split("[")[0] for name in run.outcomes if "[prod-" in name}
    needs_no_figures = {"test_high_availability", "test_database_quorum", "test_database_wiring",
                        "test_velero_backup", "test_warm_standby", "test_helm_lint", "test_kubernetes_schemas",
                        "test_referential_integrity", "test_best_practices", "test_container_resources",
                        "test_jvm_heap", "test_hpa_bounds", "test_matches_golden", "test_profile_figures"}
    assert needs_no_figures <= checks, needs_no_figures - checks
    assert "test_capacity_not_below_previous_profile" not in checks and "test_documented_minimum" not in checks
    assert any(name.startswith("test_documented_minimum[demo-demo") for name in run.outcomes)  # demo runs too
    # the profile file is the large one: everything passes but what cannot be judged or compared
    failed = {name for name, outcome in run.outcomes.items() if outcome == "failed"}
    assert run.named("test_profile_figures") == {"test_profile_figures[prod-prod-3-incluster]": "failed"}
    figures = run.messages["test_profile_figures[prod-prod-3-incluster]"]
    assert "profile prod: figures:" in figures and "architectures of large" in figures and "not judged" in figures
    golden_ones = {n for n in failed if n.split("[")[0] in ("test_golden_workloads", "test_matches_golden")}
    assert all("[prod-" in n for n in golden_ones), golden_ones
    assert all("no golden file" in run.messages[n] or "got no file" in run.messages[n] for n in golden_ones)
    assert failed - golden_ones == {"test_profile_figures[prod-prod-3-incluster]"}, sorted(failed - golden_ones)
    assert "profile prod has no figures in" in run.out and "runs the architectures of large" in run.out


def test_a_profile_file_no_rule_adopts_is_named_and_refused_when_asked_for(tmp_path: Path,
                                                                          real_helm: Path) -> None:
    chart = chart_copy(tmp_path)
    shutil.copy(chart / "override-large.yaml", chart / "override-perf-ci.yaml")
    run = run_suite(tmp_path, real_helm, "--chart-path", str(chart), "--refarch-profile", "perf-ci")
    assert run.rc == 4, run.out[-2000:]
    assert "Unknown --refarch-profile perf-ci" in run.out and "without_figures" in run.out
    listed = run_suite(tmp_path, real_helm, "--chart-path", str(chart), "--collect-only")
    assert "override-perf-ci.yaml matches no profile of the reference architectures and no rule" in listed.out


def test_diff_maps_profiles_between_versions(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """OLD ships override-prod.yaml, NEW override-large.yaml: without a map nothing is in common
    (one paragraph naming the option); with --refarch-profile-map prod=large they are compared."""
    old = older_release(tmp_path)
    base = ["diff", str(old), str(CHART), "--refarch-fixtures", str(FIXTURES), "--refarch-architecture",
            "prod-3-incluster"]
    assert main(base) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "OLD runs profiles prod, NEW runs large, medium, small" in err
    assert "--refarch-profile-map prod=large" in err and len(err.strip().splitlines()) == 1
    assert main([*base, "--refarch-profile-map", "prod=large", "--refarch-profile", "large"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "No changes: prod-prod-3-incluster -> large-prod-3-incluster" in out, out
    assert main([*base, "--refarch-profile-map", "prod=huge"]) == EXIT_USAGE
    assert "the NEW chart has no override-huge.yaml; it has demo, large, medium, small" in capsys.readouterr().err
    assert main([*base, "--refarch-profile-map", "prod"]) == EXIT_USAGE
    assert "is not of the form OLD=NEW" in capsys.readouterr().err


def test_diff_runs_an_old_profile_no_rule_knows_like_the_profile_it_is_mapped_to(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old = older_release(tmp_path)
    (old / "override-prod.yaml").rename(old / "override-sizing-xl.yaml")
    argv = ["diff", str(old), str(CHART), "--refarch-fixtures", str(FIXTURES), "--refarch-architecture",
            "prod-3-incluster", "--refarch-profile-map", "sizing-xl=large"]
    assert main(argv) == EXIT_OK, capsys.readouterr()
    assert "No changes: sizing-xl-prod-3-incluster -> large-prod-3-incluster" in capsys.readouterr().out
