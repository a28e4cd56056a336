"""`harness-refarch diff OLD NEW` end to end: real helm, copies of the embedded chart in tmp_path.

Each test changes one thing in a copy of charts/harness-prod and restricts the run to the
large profile and one or two architectures, so a run costs a handful of renders.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness_refarch.cli import (
    EXIT_BLOCKERS,
    EXIT_NOT_COMPARED,
    EXIT_OK,
    EXIT_REGRESSION,
    EXIT_USAGE,
    DiffReport,
    PairReport,
    format_markdown,
    format_text,
    main,
)
from harness_refarch.diff.compare import WIRING, Change, PairDiff, Regression
from harness_refarch.helm.binary import find_helm
from harness_refarch.model.findings import Finding

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "harness-prod"
FIXTURES = ROOT / "fixtures"
DATABASE_TEMPLATES = Path("charts/platform/charts/bootstrap/charts/database/templates")
SECRET = "S3cretPw"


def run(capsys: pytest.CaptureFixture[str], old: Path | str, new: Path | str, *args: str,
        architectures: tuple[str, ...] = ("prod-3-incluster",)) -> tuple[int, str, str]:
    argv = ["diff", str(old), str(new), "--refarch-fixtures", str(FIXTURES), "--refarch-profile", "large",
            *[a for arch in architectures for a in ("--refarch-architecture", arch)], *args]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def chart_copy(tmp_path: Path) -> Callable[..., Path]:
    """``chart_copy(edit)``: a copy of the embedded chart, after ``edit(path)`` changed it."""
    def make(edit: Callable[[Path], None] | None = None, name: str = "new") -> Path:
        target = tmp_path / name / "harness-prod"
        shutil.copytree(CHART, target)
        if edit is not None:
            edit(target)
        return target
    return make


def replace_once(path: Path, old: str, new: str, after: str = "") -> None:
    """Replace the first ``old`` that follows ``after`` in ``path``; fail if there is none."""
    text = path.read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    at = text.index(old, start)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")


def ng_manager_min_5(chart: Path) -> None:
    replace_once(chart / "override-large.yaml", "minReplicas: 4", "minReplicas: 5", after="\n  ng-manager:")


def test_one_profile_value_prints_exactly_that_change(capsys: pytest.CaptureFixture[str],
                                                     chart_copy: Callable[..., Path]) -> None:
    """prod-1 runs without autoscaling, so only the HPA architecture sees the new minimum."""
    new = chart_copy(ng_manager_min_5)
    code, out, err = run(capsys, CHART, new, architectures=("prod-1-incluster", "prod-3-incluster"))
    assert code == EXIT_OK, out + err
    changed = out.split("large-prod-3-incluster\n", 1)[1].split("\n\n", 1)[0]
    assert changed.splitlines() == ["  workloads", "    Deployment/ng-manager", "      hpa.min: 4 -> 5",
                                    "      replicas: 4 -> 5"]
    assert [line for line in out.splitlines() if line.startswith("      ")] == changed.splitlines()[2:]
    assert "No changes: large-prod-1-incluster" in out
    assert "Upgrade blockers (helm upgrade OLD -> NEW fails or loses data): none" in out
    assert out.rstrip().endswith("(exit 0)")


def test_markdown_for_a_pull_request_comment(capsys: pytest.CaptureFixture[str],
                                            chart_copy: Callable[..., Path], tmp_path: Path) -> None:
    new = chart_copy(ng_manager_min_5)
    report = tmp_path / "out" / "diff.md"
    code, out, _ = run(capsys, CHART, new, "--format", "markdown", "--output", str(report))
    assert code == EXIT_OK
    assert "report written to" in out and "(exit 0)" in out
    md = report.read_text(encoding="utf-8")
    assert md.startswith("## harness-refarch diff\n")
    assert "### large-prod-3-incluster" in md
    assert "| section | object | field | OLD | NEW |" in md
    assert "| workloads | Deployment/ng-manager | hpa.min | 4 | 5 |" in md
    assert "| workloads | Deployment/ng-manager | replicas | 4 | 5 |" in md
    assert "### Upgrade blockers\n\nNone." in md


def test_renamed_volume_claim_template_is_an_upgrade_blocker(capsys: pytest.CaptureFixture[str],
                                                            chart_copy: Callable[..., Path]) -> None:
    def rename(chart: Path) -> None:
        mongo = chart / DATABASE_TEMPLATES / "mongodb.yaml"
        mongo.write_text(mongo.read_text(encoding="utf-8").replace('"datadir"', '"data"'), encoding="utf-8")

    code, out, _ = run(capsys, CHART, chart_copy(rename))
    assert code == EXIT_BLOCKERS, out
    assert ("- StatefulSet/mongodb-replicaset-chart: spec.volumeClaimTemplates[datadir]: OLD datadir "
            "(the PVCs datadir-mongodb-replicaset-chart-N hold the data) -> NEW renamed to data") in out
    assert "Upgrade blockers (helm upgrade OLD -> NEW fails or loses data): 1" in out
    assert out.rstrip().endswith("upgrade blockers (exit 3)")


def test_shrunk_pvc_is_a_blocker_and_a_regression(capsys: pytest.CaptureFixture[str],
                                                 chart_copy: Callable[..., Path]) -> None:
    """Blockers take precedence over regressions in the exit code; both are printed."""
    def shrink(chart: Path) -> None:
        replace_once(chart / "override-large.yaml", "size: 10Gi", "size: 5Gi", after="\n      minio:")

    code, out, _ = run(capsys, CHART, chart_copy(shrink))
    assert code == EXIT_BLOCKERS, out
    assert "- PersistentVolumeClaim/minio: spec.resources.requests.storage: OLD 10Gi -> NEW 5Gi" in out
    assert "Deployment/minio\n      PersistentVolumeClaim minio storage: 10Gi -> 5Gi" in out
    assert "large-prod-3-incluster capacity_not_below_previous_profile" in out


def test_workload_kind_change(capsys: pytest.CaptureFixture[str], chart_copy: Callable[..., Path]) -> None:
    def to_statefulset(chart: Path) -> None:
        replace_once(chart / DATABASE_TEMPLATES / "minio.yaml", "kind: Deployment", "kind: StatefulSet")

    code, out, _ = run(capsys, CHART, chart_copy(to_statefulset))
    assert code == EXIT_BLOCKERS, out
    assert "- Deployment/minio: kind: OLD Deployment -> NEW StatefulSet" in out
    assert "- Deployment/minio (removed)" in out and "+ StatefulSet/minio (added)" in out


def test_packaged_chart_as_old_and_the_module_entry_point(chart_copy: Callable[..., Path], tmp_path: Path) -> None:
    helm = find_helm()
    subprocess.run([str(helm), "package", str(CHART), "--destination", str(tmp_path / "pkg")],
                   check=True, capture_output=True, timeout=60)
    (package,) = (tmp_path / "pkg").glob("harness-prod-*.tgz")
    proc = subprocess.run(
        [sys.executable, "-m", "harness_refarch.cli", "diff", str(package), str(chart_copy(ng_manager_min_5)),
         "--refarch-fixtures", str(FIXTURES), "--refarch-profile", "large", "--refarch-architecture",
         "prod-3-incluster", "--refarch-helm", str(helm)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
    assert f"OLD: {package}" in proc.stdout
    assert "hpa.min: 4 -> 5" in proc.stdout


def test_no_credentials_in_any_format(capsys: pytest.CaptureFixture[str], chart_copy: Callable[..., Path]) -> None:
    """NEW puts a literal Redis password into every connection string: the wiring diff and the
    regression (the wiring check rejects literal credentials) show it masked, never in clear."""
    def plant(chart: Path) -> None:
        replace_once(chart / "override-large.yaml", "    redis:\n      replicaCount: 3\n",
                     "    redis:\n      replicaCount: 3\n      hosts:\n"
                     f"        - default:{SECRET}@redis2.db.example.internal:6379\n")

    new = chart_copy(plant)
    for fmt in ("text", "markdown"):
        code, out, err = run(capsys, CHART, new, "--format", fmt, architectures=("prod-3-external-self-managed",))
        assert code == EXIT_REGRESSION, out + err
        assert "redis2.db.example.internal:6379" in out
        assert "redis://default:****@redis2" in out
        assert SECRET not in out + err


def test_set_values_are_applied_to_both_sides_and_never_shown(capsys: pytest.CaptureFixture[str],
                                                             chart_copy: Callable[..., Path]) -> None:
    secret_set = f"global.database.redis.hosts[0]=default:{SECRET}@r.example.internal:6379"
    code, out, err = run(capsys, CHART, chart_copy(), "--refarch-set", secret_set,
                         architectures=("prod-3-external-self-managed",))
    assert code == EXIT_OK, out + err  # same literal credential on both sides: not a regression
    assert "No changes: large-prod-3-external-self-managed" in out
    assert SECRET not in out + err


def _break_template(chart: Path) -> None:
    with (chart / "templates" / "backup.yaml").open("a", encoding="utf-8") as fh:
        fh.write('\n{{ fail "broken on purpose" }}\n')


def test_a_render_failure_on_either_side_means_not_compared_exit_2(capsys: pytest.CaptureFixture[str],
                                                                   chart_copy: Callable[..., Path]) -> None:
    """Issue 14: "no upgrade blocker" must never be said of a pair that was not compared."""
    broken = chart_copy(_break_template)
    code, out, _ = run(capsys, CHART, broken)
    assert code == EXIT_NOT_COMPARED, out
    assert "  not compared: NEW render failed: render large-prod-3-incluster failed" in out
    assert "broken on purpose" in out
    assert "large-prod-3-incluster render: 1 finding(s)" in out  # the regression is still listed
    assert "not compared: large-prod-3-incluster" in out.splitlines()[-1], out
    code, out, _ = run(capsys, broken, CHART)
    assert code == EXIT_NOT_COMPARED, out
    assert "no upgrade blocker" not in out and "not compared: large-prod-3-incluster" in out, out


def planted_report() -> DiffReport:
    """A report whose values still hold a credential, as if a caller forgot to mask them."""
    uri = f"postgres://app:{SECRET}@db.example.internal:5432/harness"
    diff = PairDiff((Change(WIRING, "postgres", "url", "postgres://db-old:5432/harness", uri),
                     Change(WIRING, "redis | cache", "hosts", "a", "b")))
    blocker = Finding("upgrade", "StatefulSet/pg", "spec.serviceName", "pg", f"DB_PASSWORD={SECRET}", "keep it")
    regression = Regression("large-x", "database_wiring",
                            (Finding("wiring", "ConfigMap/x:URL", "credentials", "none", uri),))
    return DiffReport("old (harness-prod 1)", "new (harness-prod 2)",
                      [PairReport("large-x", diff, [blocker])], [regression])


@pytest.mark.parametrize("formatter", [format_text, format_markdown])
def test_formatters_mask_whatever_they_are_given(formatter: Callable[[DiffReport], str]) -> None:
    out = formatter(planted_report())
    assert SECRET not in out
    assert "postgres://app:****@db.example.internal:5432/harness" in out
    assert "DB_PASSWORD=****" in out
    assert "(exit 3)" in out


def test_markdown_cells_escape_table_syntax() -> None:
    md = format_markdown(planted_report())
    assert "| database wiring | redis \\| cache | hosts | a | b |" in md
    assert "| StatefulSet/pg | spec.serviceName | pg | DB_PASSWORD=**** | keep it | large-x |" in md


def test_help_returns_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--help"]) == EXIT_OK
    assert "3: upgrade blockers" in capsys.readouterr().out


def test_help_names_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    main(["diff", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for code in (EXIT_OK, EXIT_REGRESSION, EXIT_NOT_COMPARED, EXIT_BLOCKERS, EXIT_USAGE):
        assert f"{code}: " in text, (code, text)
    assert "2: something could not be compared" in text


@pytest.mark.parametrize("args", [
    ["diff", "/nonexistent/old-chart", str(CHART)],
    ["diff", str(CHART)],
    ["diff", str(CHART), str(CHART), "--format", "html"],
    ["diff", str(CHART), str(CHART), "--refarch-profile", "huge"],
    [],
])
def test_bad_input_is_one_paragraph_and_exit_4(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code = main([*args, "--refarch-fixtures", str(FIXTURES)] if args else args)
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE
    assert err.startswith("harness-refarch: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_diff_markdown_never_passes_html_links_or_images_from_chart_content() -> None:
    hostile = "[click](https://evil.example) ![p](https://tracker.example/p.png) <img src=x> `c`"
    change = Change(WIRING, hostile, hostile, "a", hostile)
    report = DiffReport("old", "new", [PairReport("large-x", PairDiff((change,)), [])], [])
    md = format_markdown(report)
    assert "](" not in md.replace("\\](", "") and "![" not in md and "<img" not in md and "`c`" not in md, md
