"""`harness-refarch init`: it finds the chart, writes a configuration, golden files, a baseline and a CI
workflow into the chart repository, never overwrites without --force, and `harness-refarch check`
then gates with no arguments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness_refarch import init
from harness_refarch.engine.config import find_config, load_config, lookup
from harness_refarch.model.errors import RefarchError

REPO = Path(__file__).resolve().parents[2]
EMBEDDED = REPO / "charts" / "harness-prod"


def chart(folder: Path, name: str = "harness", profiles: tuple[str, ...] = ("demo", "large")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n", encoding="utf-8")
    for profile in profiles:
        (folder / f"override-{profile}.yaml").write_text("{}\n", encoding="utf-8")
    return folder


# -- finding the chart ------------------------------------------------------------------------------

def test_the_only_chart_with_profile_files_is_found(tmp_path: Path) -> None:
    found = chart(tmp_path / "src" / "harness")
    chart(tmp_path / "src" / "harness" / "charts" / "platform")  # its own dependency: not a candidate
    chart(tmp_path / ".cache" / "harness")  # hidden folders are skipped
    (tmp_path / "docs" / "example").mkdir(parents=True)
    (tmp_path / "docs" / "example" / "Chart.yaml").write_text("name: example\n", encoding="utf-8")  # no profiles
    assert init.choose_chart(tmp_path) == found


def test_among_several_charts_the_one_named_harness(tmp_path: Path) -> None:
    chart(tmp_path / "a", name="harness-delegate")
    harness = chart(tmp_path / "b", name="harness")
    assert init.choose_chart(tmp_path) == harness
    chart(tmp_path / "c", name="harness")
    with pytest.raises(RefarchError, match=r"several are named harness\. Pick one with --chart DIR"):
        init.choose_chart(tmp_path)
    assert init.choose_chart(tmp_path, "c") == tmp_path / "c"


def test_no_chart_is_one_paragraph(tmp_path: Path) -> None:
    chart(tmp_path / "charts" / "other", profiles=())
    with pytest.raises(RefarchError) as exc:
        init.choose_chart(tmp_path)
    message = str(exc.value)
    assert "No Harness chart below" in message and "--chart DIR" in message and "\n" not in message
    with pytest.raises(RefarchError, match=r"has no override-<profile>\.yaml"):
        init.choose_chart(tmp_path, "charts/other")


def test_profiles_without_figures_are_listed_not_run(tmp_path: Path) -> None:
    chart(tmp_path / "harness", profiles=("demo", "large", "huge"))
    plan = init.plan_for(tmp_path, REPO / "fixtures", install="harness-refarch")
    assert plan.profiles == ["demo", "large"] and plan.skipped == ["huge"]
    [line] = [line for line in init.config_text(plan).splitlines() if "override-huge.yaml" in line]
    assert line.startswith("#") and "no reference-architecture figures" in line


# -- the files --------------------------------------------------------------------------------------

def test_the_starter_configuration_reads_back(tmp_path: Path) -> None:
    chart(tmp_path / "src" / "harness", profiles=("demo", "small", "medium", "large"))
    plan = init.plan_for(tmp_path, REPO / "fixtures", install="harness-refarch")
    path = tmp_path / ".harness-refarch.yaml"
    path.write_text(init.config_text(plan), encoding="utf-8")
    config = load_config(path)
    assert lookup(config, "chart") == str(tmp_path / "src" / "harness")
    assert lookup(config, "profile") == ["demo", "small", "medium", "large"]
    assert lookup(config, "golden") == str(tmp_path / "refarch" / "golden")
    assert lookup(config, "waivers") == str(tmp_path / "refarch" / "waivers.yaml")
    assert lookup(config, "fail-on") == "error"
    assert lookup(config, "sarif") == str(tmp_path / "refarch" / "out" / "refarch.sarif")


def test_the_workflow_installs_runs_check_and_uploads_sarif(tmp_path: Path) -> None:
    chart(tmp_path / "harness")
    plan = init.plan_for(tmp_path, REPO / "fixtures", install="git+https://github.com/acme/harness-refarch@abc123")
    doc = yaml.safe_load(init.workflow_text(plan))
    steps = doc["jobs"]["conformance"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert 'pip install "git+https://github.com/acme/harness-refarch@abc123"' in runs
    assert any("harness-refarch-install-helm --path-only" in r and "GITHUB_PATH" in r for r in runs)
    assert any(r.startswith("harness-refarch check") for r in runs)
    assert not any("helm dependency build" in r for r in runs)  # nothing to fetch: no dependency declared
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["with"]["sarif_file"] == init.SARIF and "always()" in upload["if"]
    assert doc["permissions"]["security-events"] == "write"
    (tmp_path / "harness" / "Chart.yaml").write_text(
        "apiVersion: v2\nname: harness\nversion: 1.0.0\ndependencies:\n- name: platform\n  version: 1.0.0\n"
        "  repository: https://example.invalid/charts\n", encoding="utf-8")
    plan = init.plan_for(tmp_path, REPO / "fixtures", install="harness-refarch")
    assert "helm dependency build harness" in init.workflow_text(plan)
    (tmp_path / "harness" / "charts").mkdir()
    (tmp_path / "harness" / "charts" / "platform-1.0.0.tgz").write_bytes(b"")
    assert "helm dependency build" not in init.workflow_text(init.plan_for(tmp_path, REPO / "fixtures"))


@pytest.mark.parametrize(("remote", "expected"), [
    ("https://github.com/acme/harness-refarch.git", "https://github.com/acme/harness-refarch.git"),
    ("https://user:ghp_secret@github.com/acme/harness-refarch", "https://github.com/acme/harness-refarch"),
    ("git@github.com:acme/harness-refarch.git", "https://github.com/acme/harness-refarch.git"),
    ("/srv/git/harness-refarch", None),
])
def test_the_install_url_never_carries_credentials(remote: str, expected: str | None) -> None:
    assert init._https(remote) == expected


def test_nothing_is_overwritten_without_force(tmp_path: Path) -> None:
    chart(tmp_path / "harness")
    (tmp_path / ".git").mkdir()
    workflow = tmp_path / ".github" / "workflows" / "harness-refarch.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("mine\n", encoding="utf-8")
    with pytest.raises(RefarchError) as exc:
        init.run_init(tmp_path, REPO / "fixtures", install="x", record=False)
    assert ".github/workflows/harness-refarch.yml" in str(exc.value) and "--force" in str(exc.value)
    assert workflow.read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / ".harness-refarch.yaml").exists() and not (tmp_path / "refarch").exists()
    assert init.run_init(tmp_path, REPO / "fixtures", install="x", record=False, force=True) == 0
    assert "harness-refarch check" in workflow.read_text(encoding="utf-8")
    assert find_config(tmp_path) == tmp_path / ".harness-refarch.yaml"


def test_a_pyproject_table_is_not_shadowed_silently(tmp_path: Path) -> None:
    chart(tmp_path / "harness")
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.harness-refarch]\nchart = "harness"\n', encoding="utf-8")
    with pytest.raises(RefarchError, match=r"would take precedence silently"):
        init.run_init(tmp_path, REPO / "fixtures", install="x", record=False)
    assert not (tmp_path / ".harness-refarch.yaml").exists()


# -- end to end: init in a copy of the embedded chart, then `check` with no arguments ---------------

def _run(args: list[str], cwd: Path, helm: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFARCH_", "ATS_"))}
    env.update(HELM_BIN=str(helm), **extra)
    return subprocess.run([sys.executable, "-m", "harness_refarch.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=1200)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_init_then_check_with_no_arguments(tmp_path: Path, real_helm: Path) -> None:
    repo = tmp_path / "charts-repo"
    shutil.copytree(EMBEDDED, repo / "harness")
    (repo / ".git").mkdir()
    fixtures_before = _tree(REPO / "fixtures")
    chart_before = _tree(repo / "harness")

    done = _run(["init", "--install", "git+https://github.com/acme/harness-refarch@abc123"], repo, real_helm)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    config = load_config(repo / ".harness-refarch.yaml")
    assert lookup(config, "chart") == str(repo / "harness")
    golden = sorted(p.relative_to(repo / "refarch" / "golden").as_posix()
                    for p in (repo / "refarch" / "golden").rglob("*.yaml"))
    assert len(golden) == 16 and "large/prod-3-incluster.yaml" in golden
    baseline = yaml.safe_load((repo / "refarch" / "waivers.yaml").read_text(encoding="utf-8"))
    assert baseline == {"waivers": []}  # the embedded chart has no finding today
    assert "Waivers baseline written by harness-refarch" in (repo / "refarch" / "waivers.yaml").read_text("utf-8")
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "harness-refarch.yml").read_text("utf-8"))
    assert any(s.get("run", "").startswith("harness-refarch check") for s in workflow["jobs"]["conformance"]["steps"])
    assert _tree(repo / "harness") == chart_before  # the chart is never written
    assert _tree(REPO / "fixtures") == fixtures_before  # nor the suite's own data

    gate = _run(["check", "-q"], repo, real_helm)
    out = gate.stdout + gate.stderr
    assert gate.returncode == 0, out[-3000:]
    assert "failed" not in out.splitlines()[-1]
    assert (repo / "refarch" / "out" / "refarch.sarif").is_file()
    assert (repo / "refarch" / "out" / "report.html").is_file()
    assert (repo / "refarch" / ".gitignore").read_text("utf-8").strip().endswith("out/")

    # The golden files are the repository's: one removed is a failing gate naming the repository's file.
    (repo / "refarch" / "golden" / "demo" / "demo.yaml").unlink()
    gate = _run(["check", "-q", "-k", "demo-demo and golden"], repo, real_helm)
    out = gate.stdout + gate.stderr
    assert gate.returncode == 1, out[-3000:]
    # (the per-workload tests point at it; the root cause is the file's, named once)
    assert "golden file: golden/demo/demo.yaml: expected recorded expectations, got no file" in out

    # Precedence on a real run: REFARCH_PROFILE beats the file's profile list, the flag beats both.
    for extra, profile in (([], "small"), (["--refarch-profile", "large"], "large")):
        gate = _run(["check", "-v", "-k", "golden_workloads", *extra], repo, real_helm, REFARCH_PROFILE="small")
        ran = {line.split("[", 1)[1].split("]", 1)[0] for line in gate.stdout.splitlines()
               if "test_golden_workloads[" in line and "PASSED" in line}
        assert gate.returncode == 0 and ran, (gate.stdout + gate.stderr)[-3000:]
        assert all(pair.startswith(f"{profile}-") for pair in ran), ran


def test_a_failed_recording_run_says_so_and_how_to_retry(tmp_path: Path, real_helm: Path) -> None:
    repo = tmp_path / "repo"
    chart(repo / "harness", profiles=("demo",))
    (repo / "harness" / "templates").mkdir()
    (repo / "harness" / "templates" / "broken.yaml").write_text('{{ fail "this chart does not render" }}\n',
                                                                 encoding="utf-8")
    (repo / ".git").mkdir()
    done = _run(["init", "--install", "harness-refarch"], repo, real_helm)
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]
    assert "the recording run failed" in done.stderr and "harness-refarch init --force" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not list((repo / "refarch" / "golden").rglob("*.yaml"))
