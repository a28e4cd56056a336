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


HOOKS = REPO / ".pre-commit-hooks.yaml"


def test_the_pre_commit_hook_pins_commits_and_watches_the_gates_files() -> None:
    """The hook file's own example pins a commit as the README does (no release is tagged), and the
    hook runs again when the gate's configuration, golden files or waivers change, not only the chart."""
    text = HOOKS.read_text(encoding="utf-8")
    revs = re.findall(r"\brev:\s*(\S+)", text)
    assert revs and all(re.fullmatch(r"[0-9a-f]{40}", rev) for rev in revs), revs
    files = re.compile(yaml.safe_load(text)[0]["files"])
    for path in ("src/harness/override-large.yaml", "Chart.yaml", "src/harness/templates/x.yaml",
                 ".harness-refarch.yaml", "pyproject.toml", "refarch/waivers.yaml",
                 "refarch/golden/large/prod-3-incluster.yaml"):
        assert files.search(path), path
    assert not files.search("README.md") and not files.search("refarch/out/report.html")


def test_the_pinned_commit_reads_the_configuration_file() -> None:
    """The README's pre-commit example sits beside `harness-refarch init`: the commit it pins must
    be one of this repository's that reads .harness-refarch.yaml (it pinned one from before the
    configuration file existed, which gates on the suite's own golden files and no baseline)."""
    pinned = str(yaml.safe_load(_blocks("yaml")[0])["repos"][0]["rev"])
    assert pinned in HOOKS.read_text(encoding="utf-8"), "the hook file's example pins what the README pins"
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("no git history here to look the pinned commit up in")

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)

    if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        pytest.skip("a shallow clone: the pinned commit may be outside its history")
    assert git("merge-base", "--is-ancestor", pinned, "HEAD").returncode == 0, f"{pinned}: not in this history"
    for path in ("src/harness_refarch/engine/config.py", "src/harness_refarch/init.py", ".pre-commit-hooks.yaml"):
        assert git("cat-file", "-e", f"{pinned}:{path}").returncode == 0, f"the pinned commit has no {path}"


def test_the_pre_commit_hook_runs_the_gate_of_a_repository_set_up_by_init(tmp_path: Path, real_helm: Path) -> None:
    """pre-commit runs ``entry`` with the hook's ``args``: in a chart repository whose configuration
    file names the chart (as `harness-refarch init` writes it, the chart below the root), that is
    the repository's gate; the hook must not name a chart of its own (it used to pass ``.``)."""
    hook = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))[0]
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "charts" / "harness-prod", repo / "src" / "harness", symlinks=True)
    (repo / ".git").mkdir()
    (repo / "refarch").mkdir()
    (repo / "refarch" / "waivers.yaml").write_text("waivers: []\n", encoding="utf-8")
    (repo / ".harness-refarch.yaml").write_text(
        f"chart: src/harness\nprofile: [demo]\narchitecture: [demo]\ngolden: {REPO / 'fixtures' / 'golden'}\n",
        encoding="utf-8")
    entry = shlex.split(hook["entry"])
    argv = [str(BIN / entry[0]), *entry[1:], *hook.get("args", [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFARCH_", "ATS_"))}
    env.update(HELM_BIN=str(real_helm), REFARCH_FIXTURES=str(REPO / "fixtures"))
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "demo-demo" in out and str(repo / "src" / "harness") in out
