"""The check registry: one list that the conformance tests, diff, reports, severities and waivers
read; the test ids it produces are those of the hand-written tests it replaced; a team's own
check (tests/unit/data/toy_check.py) shows up in pytest, the report and diff."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness_refarch.checks.registry import REGISTRY, Check, Registry, check
from harness_refarch.checks.severities import Severities
from harness_refarch.engine.waivers import load_waivers
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
FIXTURES = REPO / "fixtures"
DATA = Path(__file__).resolve().parent / "data"
IDS = DATA / "collected-ids-embedded.txt"
TOY = "deployment_team_label"
ONE_PAIR = ("--refarch-profile", "large", "--refarch-architecture", "prod-3-incluster")


@dataclass(frozen=True)
class Run:
    rc: int
    out: str


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k not in ("HELM_BIN", "PYTHONPATH")}
    env.update(PYTHONDONTWRITEBYTECODE="1", HARNESS_REFARCH_CACHE=str(tmp_path / "refarch-cache"), **extra)
    return env


def run_suite(tmp_path: Path, helm: Path, *args: str, **env: str) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
         "-p", "no:randomly", "-q", "-ra", "--refarch-fixtures", str(FIXTURES), "--refarch-helm", str(helm), *args],
        cwd=tmp_path, env=_env(tmp_path, **env), capture_output=True, text=True, timeout=600, check=False)
    return Run(proc.returncode, proc.stdout + proc.stderr)


def ids(run: Run) -> list[str]:
    return [line for line in run.out.splitlines() if "::" in line]


# -- the registry is the only list, and the tests it binds are the tests there were --------------
def test_collected_ids_are_exactly_those_of_the_hand_written_tests(tmp_path: Path, real_helm: Path) -> None:
    """Every id, in order, of a full collection on the embedded chart (the list was recorded
    from the hand-written tests before they became registry bindings)."""
    run = run_suite(tmp_path, real_helm, "--collect-only")
    assert run.rc == 0, run.out[-3000:]
    assert ids(run) == IDS.read_text(encoding="utf-8").splitlines()


def _bindings() -> dict[str, list[tuple[str, str]]]:
    """file -> (name, check id) of each ``test_x = conformance_test("x")`` line; asserts that a
    file holds nothing else (a docstring and the import)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(CONFORMANCE.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: list[tuple[str, str]] = []
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the docstring
            if isinstance(node, ast.ImportFrom) and node.module == "harness_refarch.plugin.binding":
                continue
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                    and node.value.func.id == "conformance_test" and len(node.value.args) == 1
                    and isinstance(node.value.args[0], ast.Constant)):
                found.append((node.targets[0].id, str(node.value.args[0].value)))
                continue
            if path.name == "test_custom_checks.py" and isinstance(node, ast.Expr):
                continue  # globals().update(custom_tests())
            pytest.fail(f"{path.name}:{node.lineno}: a conformance file holds one-line bindings only")
        out[path.name] = found
    return out


def test_every_shipped_check_is_one_binding_named_after_it() -> None:
    bindings = _bindings()
    bound = [check_id for pairs in bindings.values() for _, check_id in pairs]
    assert all(name == f"test_{check_id}" for pairs in bindings.values() for name, check_id in pairs)
    builtin = [c.id for c in REGISTRY if c.builtin]
    assert sorted(bound) == sorted(builtin)  # each exactly once, and nothing unregistered
    assert bindings["test_custom_checks.py"] == []


def test_diff_compares_what_the_registry_marks() -> None:
    compared = {c.id for c in REGISTRY.compared()}
    assert compared == {"objects_well_formed", "hpa_bounds", "high_availability", "database_quorum",
                        "container_resources", "jvm_heap", "documented_minimum",
                        "capacity_not_below_previous_profile", "database_wiring", "velero_backup", "warm_standby"}


def test_the_shipped_severities_name_every_finding_id() -> None:
    """fixtures/severities.yaml stays the one place of the shipped checks' severities."""
    from harness_refarch.checks import severities

    named = set(severities.load(FIXTURES).checks())
    assert REGISTRY.finding_ids() <= named, REGISTRY.finding_ids() - named


# -- registrations are validated ------------------------------------------------------------------
def _nothing(pair: object, manifest: object) -> list[Finding]:
    return []


@pytest.mark.parametrize(("fields", "message"), [
    ({"id": "Bad-Id"}, "lower-case letters"),
    ({"where": {"hq": True}}, "names hq; use ha, in_cluster"),
    ({"workloads": "java"}, "workloads='java'; use one of all, stateless, jvm"),
    ({"needs": ("helm",)}, "needs helm; use standby, repeat, lint, unread"),
    ({"severity": "fatal"}, "severity 'fatal'"),
    ({"workload_arg": True}, "workload_arg needs workloads="),
    ({"workloads": "all", "workload_arg": True, "diff": True}, "diff compares whole pairs"),
    ({"findings": ()}, "findings must name the ids"),
], ids=["id", "where", "workloads", "needs", "severity", "workload-arg", "diff", "findings"])
def test_a_malformed_registration_is_one_paragraph(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"id": "my_check", "fn": _nothing, "findings": ("my-check",), "module": "team"}
    values.update(fields)
    with pytest.raises(RefarchError, match=r"check .* \(registered by team\)") as info:
        Registry().add(Check(**values))  # type: ignore[arg-type]
    assert message in str(info.value)


def test_an_id_registered_by_two_modules_is_refused() -> None:
    registry = Registry()
    registry.add(Check("same", _nothing, findings=("same",), module="one"))
    with pytest.raises(RefarchError, match="registered twice: by one and by two"):
        registry.add(Check("same", _nothing, findings=("same",), module="two"))


def test_the_decorator_returns_the_function_and_defaults_the_finding_id(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry()
    monkeypatch.setattr("harness_refarch.checks.registry.REGISTRY", registry)

    @check("own_check")
    def own(pair: object, manifest: object) -> list[Finding]:
        """Docstring becomes the test's."""
        return []

    assert own(None, None) == []
    entry = registry._checks["own_check"]
    assert entry.findings == ("own_check",) and entry.doc == "Docstring becomes the test's."
    assert entry.test == "test_own_check" and not entry.builtin


def test_an_unknown_check_id_says_the_close_one() -> None:
    with pytest.raises(RefarchError, match=r"No check 'hpa_bound' is registered \(did you mean 'hpa_bounds'\?\)"):
        REGISTRY.get("hpa_bound")


def test_a_registered_severity_is_the_default_the_data_file_overrides() -> None:
    data = Severities({"team-label": "info"}, {"team-label": "from the file"})
    merged = data.with_defaults({"team-label": ("warning", "x"), "other": ("warning", "help")})
    assert merged.level("team-label") == "info" and merged.help("team-label") == "from the file"
    assert merged.level("other") == "warning" and merged.help("other") == "help"


def test_a_waiver_naming_no_check_id_is_refused_with_the_close_one(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n  - check: resourcs\n    reason: typo\n", encoding="utf-8")
    with pytest.raises(RefarchError) as info:
        load_waivers(path, known=REGISTRY.finding_ids())
    message = str(info.value)
    assert "entry 1 (line 2): check 'resourcs' matches no check id" in message
    assert "did you mean 'resources'?" in message
    path.write_text("waivers:\n  - check: resource*\n    reason: a glob that matches\n", encoding="utf-8")
    assert len(load_waivers(path, known=REGISTRY.finding_ids()).entries) == 1


# -- a team's own check ---------------------------------------------------------------------------
def test_a_custom_check_is_a_test_a_report_row_and_can_fail(tmp_path: Path, real_helm: Path) -> None:
    report = tmp_path / "report.json"
    html = tmp_path / "report.html"
    junit = tmp_path / "junit.xml"
    run = run_suite(tmp_path, real_helm, *ONE_PAIR, "--refarch-checks", "toy_check", "-k", "team_label or hpa_bounds",
                    "--refarch-report", str(report), f"--junitxml={junit}", PYTHONPATH=str(DATA))
    assert run.rc == 1, run.out[-3000:]
    assert f"conformance/test_custom_checks.py::test_{TOY}[large-prod-3-incluster]" in run.out
    assert "[team-label] 16 places: Deployment/access-control" in run.out
    assert "metadata.labels.team: expected set to the owning team, got missing" in run.out
    assert "Traceback" not in run.out
    doc = json.loads(report.read_text(encoding="utf-8"))
    rows = {r["check"]: r for r in doc["results"]}
    assert rows[TOY]["outcome"] == "fail" and rows["hpa_bounds"]["outcome"] == "pass"
    assert any(f["check"] == "team-label" for f in doc["findings"])
    case = next(c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name", "").startswith(f"test_{TOY}"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["check"] == TOY and props["pair"] == "large-prod-3-incluster"
    # the severity its registration declares: below --refarch-fail-on error it is reported, not failing
    gated = run_suite(tmp_path, real_helm, *ONE_PAIR, "--refarch-fail-on", "error", "-k", TOY,
                      "--refarch-report", str(html), REFARCH_CHECKS="toy_check", PYTHONPATH=str(DATA))
    assert gated.rc == 0, gated.out[-3000:]
    assert "1 xfailed" in gated.out and "team-label (warning)" in gated.out
    assert TOY in html.read_text(encoding="utf-8")  # its row of the matrix


def test_a_waiver_accepts_a_custom_check_by_its_finding_id(tmp_path: Path, real_helm: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - check: team-label\n    reason: labels come with the next release\n",
                       encoding="utf-8")
    run = run_suite(tmp_path, real_helm, *ONE_PAIR, "--refarch-checks", "toy_check", "-k", TOY,
                    "--refarch-waivers", str(waivers), PYTHONPATH=str(DATA))
    assert run.rc == 0, run.out[-3000:]
    assert "1 xfailed" in run.out
    # without the module, the same waiver names no check of the suite: bad input, not a silent no-op
    plain = run_suite(tmp_path, real_helm, *ONE_PAIR, "-k", "hpa_bounds", "--refarch-waivers", str(waivers))
    assert plain.rc == pytest.ExitCode.USAGE_ERROR, plain.out[-3000:]
    assert "check 'team-label' matches no check id of the suite" in plain.out


def _entry_point_dist(root: Path) -> None:
    info = root / "team_checks-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: team-checks\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[harness_refarch.checks]\nteam = toy_check\n", encoding="utf-8")


def test_an_installed_entry_point_registers_its_checks(tmp_path: Path, real_helm: Path) -> None:
    site = tmp_path / "site"
    _entry_point_dist(site)
    run = run_suite(tmp_path, real_helm, *ONE_PAIR, "--collect-only",
                    PYTHONPATH=os.pathsep.join([str(site), str(DATA)]))
    assert run.rc == 0, run.out[-3000:]
    assert f"tests/conformance/test_custom_checks.py::test_{TOY}[large-prod-3-incluster]" in ids(run)


def test_a_check_module_that_cannot_be_imported_is_one_paragraph(tmp_path: Path, real_helm: Path) -> None:
    run = run_suite(tmp_path, real_helm, "--refarch-checks", "no_such_team_checks", "--collect-only")
    assert run.rc == pytest.ExitCode.USAGE_ERROR
    assert "--refarch-checks no_such_team_checks: module no_such_team_checks cannot be found" in run.out
    assert "Traceback" not in run.out


BAD_CHECKS = '''
from harness_refarch.checks.registry import check
from harness_refarch.model.findings import Finding


@check("undeclared_id", findings=("declared",))
def undeclared(pair, manifest):
    return [Finding("other", "Deployment/x", "f", "e", "a")]


@check("crashing")
def crashing(pair, manifest):
    return {}["missing"]
'''


def test_a_custom_check_that_misbehaves_fails_its_test_in_one_line(tmp_path: Path, real_helm: Path) -> None:
    module = tmp_path / "mods" / "bad_checks.py"
    module.parent.mkdir()
    module.write_text(BAD_CHECKS, encoding="utf-8")
    run = run_suite(tmp_path, real_helm, *ONE_PAIR, "--refarch-checks", "bad_checks", "-k", "undeclared or crashing",
                    PYTHONPATH=str(module.parent))
    assert run.rc == 1, run.out[-3000:]
    assert ("check undeclared_id (bad_checks) reported finding id(s) other that its registration does not declare"
            in run.out)
    assert ("check crashing crashed (a bug of bad_checks, a check module outside harness-refarch): KeyError: "
            "'missing'" in run.out)
    assert "Traceback" not in run.out


def test_diff_compares_a_custom_check(tmp_path: Path, real_helm: Path) -> None:
    """OLD labels every object with a team, NEW (the embedded chart) does not: a regression of
    the team's own check, named by its id."""
    old = tmp_path / "old" / "harness-prod"
    shutil.copytree(CHART, old)
    labels = old / "charts" / "harness-common" / "templates" / "_labels.tpl"
    text = labels.read_text(encoding="utf-8")
    labels.write_text(text.replace("helm.sh/chart: {{ printf", "team: platform\nhelm.sh/chart: {{ printf", 1),
                      encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "harness_refarch.cli", "diff", str(old), str(CHART), *ONE_PAIR,
         "--refarch-fixtures", str(FIXTURES), "--refarch-helm", str(real_helm), "--refarch-checks", "toy_check"],
        cwd=tmp_path, env=_env(tmp_path, PYTHONPATH=str(DATA)), capture_output=True, text=True, timeout=600,
        check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"large-prod-3-incluster {TOY}: 16 finding(s)" in proc.stdout
    assert "Deployment/ng-manager: metadata.labels.team: expected set to the owning team, got missing" in proc.stdout
    assert "Result: NEW fails checks that OLD passed (exit 1)" in proc.stdout
