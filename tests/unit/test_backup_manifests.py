"""--refarch-manifests end to end: the operator's Velero objects judged with a real render.

Released Harness charts render no backup objects (Harness documents backup as an
operator-installed Velero). The embedded chart renders its own unless ``global.backup.enabled``
is false, which makes it render none, as a released chart does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harness_refarch.cli import EXIT_OK, EXIT_REGRESSION, main

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
EXAMPLE = REPO / "fixtures" / "examples" / "velero-backup.yaml"
RELEASED = REPO.parent / "shared" / "reference" / "released-chart" / "harness"
NO_BACKUP = ("--refarch-set", "global.backup.enabled=false")
NO_EVIDENCE = "the chart renders no backup objects and no --refarch-manifests were given"


@pytest.fixture
def suite(pytester: pytest.Pytester, real_helm: Path) -> Callable[..., pytest.RunResult]:
    """Run the backup test of the large profile in a subprocess (fresh HOME, real helm)."""
    def run(*args: str, chart: Path = CHART) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            str(CONFORMANCE / "test_backup.py"), "--rootdir", str(REPO), "-p", "no:cacheprovider",
            "--refarch-fixtures", str(REPO / "fixtures"), "--refarch-helm", str(real_helm),
            "--chart-path", str(chart), "--refarch-profile", "large", "-q", *args)
    return run


def without(tmp_path: Path, label: str) -> Path:
    """The example manifests with one database label left out of the selector."""
    text = EXAMPLE.read_text(encoding="utf-8")
    changed = text.replace(f"{label}, ", "")
    assert changed != text
    path = tmp_path / f"velero-without-{label}.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


def test_a_chart_without_backup_objects_gets_one_finding_per_pair(suite) -> None:
    result = suite(*NO_BACKUP)
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]
    result.assert_outcomes(failed=2)  # large-prod-1-incluster and large-prod-3-incluster
    assert out.count("1 finding(s) for large-prod-") == 2
    assert out.count(NO_EVIDENCE) == 3  # each failing test, then its one line in the root causes
    assert "--refarch-manifests velero-schedule.yaml" in out


def test_the_example_manifests_cover_the_embedded_chart(suite) -> None:
    result = suite(*NO_BACKUP, "--refarch-manifests", str(EXAMPLE))
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=2)


def test_a_selector_that_misses_a_database_names_it(suite, tmp_path: Path) -> None:
    result = suite(*NO_BACKUP, "--refarch-manifests", str(without(tmp_path, "postgresql")))
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]
    result.assert_outcomes(failed=2)
    assert out.count("1 finding(s) for large-prod-") == 2
    assert "StatefulSet/postgres: Schedule/harness-daily spec.template.orLabelSelectors" in out
    assert "'app.kubernetes.io/name': 'postgresql'" in out
    assert "(from --refarch-manifests velero-without-postgresql.yaml)" in out
    for other in ("mongodb-replicaset-chart:", "redis-sentinel-harness-server:", "Deployment/minio:"):
        assert other not in out


def test_manifests_from_the_environment(suite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    snapshot_class, schedule = EXAMPLE.read_text(encoding="utf-8").split("---")
    files = [tmp_path / "snapshot-class.yaml", tmp_path / "schedule.yaml"]
    for path, text in zip(files, (snapshot_class, schedule), strict=True):
        path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("REFARCH_MANIFESTS", os.pathsep.join(map(str, files)))
    result = suite(*NO_BACKUP)
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist or is not a file"),
    ("kind: [unclosed\n", "is not valid YAML"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "holds no backup object (ConfigMap/x)"),
], ids=["missing", "not_yaml", "no_backup_object"])
def test_bad_manifest_file_is_one_paragraph_and_a_usage_exit(suite, tmp_path: Path, content: str | None,
                                                             message: str) -> None:
    path = tmp_path / "velero.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = suite("--refarch-manifests", str(path))
    text = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text[-3000:]
    assert f"The manifest file {path} given with --refarch-manifests {message}" in text
    assert "Traceback" not in text


@pytest.mark.skipif(not (RELEASED / "Chart.yaml").is_file(), reason=f"no released Harness chart at {RELEASED}")
def test_released_chart_with_and_without_the_operator_manifests(suite) -> None:
    bare = suite(chart=RELEASED)
    assert bare.ret == 1
    bare.assert_outcomes(failed=2)
    assert bare.stdout.str().count(NO_EVIDENCE) == 3  # two failing tests, one root cause
    covered = suite("--refarch-manifests", str(EXAMPLE), chart=RELEASED)
    assert covered.ret == 0, covered.stdout.str()[-3000:]
    covered.assert_outcomes(passed=2)


# -- harness-refarch diff takes the option too ----------------------------------------------------
def test_diff_judges_both_sides_with_the_operator_manifests(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    new = tmp_path / "harness-prod"
    shutil.copytree(CHART, new)
    (new / "templates" / "backup.yaml").write_text("{{- /* backup is the operator's (Velero) */ -}}\n")
    argv = ["diff", str(CHART), str(new), "--refarch-fixtures", str(REPO / "fixtures"),
            "--refarch-profile", "large", "--refarch-architecture", "prod-3-incluster"]
    assert main(argv) == EXIT_REGRESSION
    out = capsys.readouterr().out
    assert "large-prod-3-incluster velero_backup: 1 finding(s)" in out
    assert NO_EVIDENCE in out
    assert main([*argv, "--refarch-manifests", str(EXAMPLE)]) == EXIT_OK
    assert "velero_backup" not in capsys.readouterr().out
