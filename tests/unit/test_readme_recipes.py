"""The README's gating recipes run as written: the YAML blocks parse, and the workflow's own
commands (helm on PATH, four `harness-refarch check` shards, `harness-refarch merge` into a
report, SARIF and JUnit, `harness-refarch diff`) run against a chart repository holding the
embedded chart at ``src/harness``.

What cannot run here is said, not faked: installing from GitHub (the package under test is the
installed one) and `helm dependency build` (the embedded chart vendors its subcharts; the
command fetches repositories, and this machine has no internet)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BIN = Path(sys.executable).parent
NOT_HERE = ("pip install", "helm dependency build", "git worktree add")


def _gating_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Gating a chart repository")
    return text[start:text.index("\n## ", start + 3)]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", _gating_section(), re.S)


def _workflow() -> dict:
    for block in _blocks("yaml"):
        doc = yaml.safe_load(block)
        if isinstance(doc, dict) and "jobs" in doc:
            return doc
    raise AssertionError("the gating section holds no CI workflow")


def test_every_yaml_recipe_of_the_gating_section_parses() -> None:
    blocks = _blocks("yaml")
    assert len(blocks) >= 2  # pre-commit and the workflow
    for block in blocks:
        assert isinstance(yaml.safe_load(block), dict)
    hooks = yaml.safe_load(blocks[0])["repos"][0]
    assert re.fullmatch(r"[0-9a-f]{40}", str(hooks["rev"])), "pre-commit pins a commit (no release is tagged)"


def _lines(run: str) -> list[str]:
    out = []
    for line in str(run).replace("\\\n", " ").splitlines():
        line = line.split("  #", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _commands() -> list[str]:
    """Every command of the workflow, once per matrix value (``${{ matrix.x }}`` filled in)."""
    out = []
    for job in _workflow()["jobs"].values():
        matrix = ((job.get("strategy") or {}).get("matrix") or {})
        axes = [(name, values) for name, values in matrix.items() if isinstance(values, list)]
        combos = [{}] if not axes else [{axes[0][0]: v} for v in axes[0][1]]
        steps = [s for s in job["steps"] if "run" in s]
        for combo in combos:
            for step in steps:
                for line in _lines(step["run"]):
                    for name, value in combo.items():
                        line = line.replace("${{ matrix." + name + " }}", str(value))
                    if not out or line != out[-1] or "${{" in line:
                        out.append(line)
    return list(dict.fromkeys(out))


SHELL = ("echo", "export")


def test_the_workflow_commands_run_against_a_chart_repository(tmp_path: Path, real_helm: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "charts" / "harness-prod", repo / "src" / "harness", symlinks=True)
    shutil.copytree(REPO / "charts" / "harness-prod", tmp_path / "base" / "src" / "harness", symlinks=True)
    github_path = tmp_path / "github-path"
    env = {**os.environ, "GITHUB_PATH": str(github_path), "HELM_BIN": str(real_helm),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "REFARCH_FIXTURES": str(REPO / "fixtures")}
    ran, skipped = [], []
    for command in _commands():
        assert "${{" not in command, f"an expression the test does not fill in: {command}"
        if command.startswith(NOT_HERE):
            skipped.append(command)
            continue
        if command.startswith(SHELL):
            proc = subprocess.run(["bash", "-c", command], cwd=repo, env=env, capture_output=True, text=True)
            assert proc.returncode == 0, f"{command}\n{proc.stderr}"
            if "GITHUB_PATH" in command:
                folder = github_path.read_text().strip()
                assert (Path(folder) / "helm").is_file(), f"the recipe puts {folder} on PATH: no helm there"
                env["PATH"] = f"{folder}{os.pathsep}{env['PATH']}"
            ran.append(command)
            continue
        argv = shlex.split(command.replace("|| true", "").replace("../base/", str(tmp_path / "base") + "/"))
        if argv[:2] == ["harness-refarch", "check"]:
            argv += ["-q", "-p", "no:cacheprovider"]
        proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        accepted = (0, 1) if "|| true" in command else (0,)
        assert proc.returncode in accepted, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        ran.append(command)
    checks = [c for c in ran if c.startswith("harness-refarch check")]
    assert len(checks) == 4 and all("--refarch-shard" in c for c in checks), checks
    assert [c for c in ran if c.startswith("harness-refarch merge")], ran
    assert [c for c in ran if c.startswith("harness-refarch diff")], ran
    for output in ("report.html", "refarch.sarif", "junit.xml", "diff.md"):
        assert (repo / output).is_file(), output
    assert all(c.startswith(NOT_HERE) for c in skipped)


@pytest.mark.parametrize("step", NOT_HERE)
def test_what_does_not_run_here_is_still_in_the_recipe(step: str) -> None:
    """The skipped steps are real steps of the recipe (the list above never hides one that left)."""
    assert any(c.startswith(step) for c in _commands())
