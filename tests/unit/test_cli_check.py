"""`harness-refarch check CHART` from an installed wheel, outside this checkout: the wheel carries
the reference-architecture data and the conformance tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from harness_refarch.helm.binary import find_helm

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the built wheel (and its dependencies) installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp), str(REPO)],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = tmp.glob("harness_refarch-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, check=False)
    assert pip.returncode == 0, pip.stderr[-2000:]
    return env_dir


def test_check_runs_the_packaged_suite_against_a_chart(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HELM_BIN": str(find_helm()), "HARNESS_REFARCH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([str(installed / "bin" / "harness-refarch"), "check", str(REPO / "charts" / "harness-prod"),
                           "-q", "--refarch-profile", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r"\d+ passed", out)
    assert "warning" not in out.splitlines()[-1], out[-3000:]
    assert "harness-refarch: chart" in out
    assert not (tmp_path / "fixtures").exists()  # nothing of the checkout was needed or written


def test_diff_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HELM_BIN": str(find_helm()), "HARNESS_REFARCH_CACHE": str(tmp_path / "cache")}
    chart = str(REPO / "charts" / "harness-prod")
    proc = subprocess.run([str(installed / "bin" / "harness-refarch"), "diff", chart, chart,
                           "--refarch-profile", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def test_update_from_the_wheel_never_writes_into_site_packages(installed: Path, tmp_path: Path) -> None:
    """Without a configuration file the golden folder is the wheel's data: --refarch-update is refused."""
    packaged = sorted(p.relative_to(installed) for p in installed.rglob("data/fixtures/golden/**/*") if p.is_file())
    (tmp_path / ".git").mkdir()  # a repository without a configuration file
    env = {**os.environ, "HELM_BIN": str(find_helm()), "HARNESS_REFARCH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([str(installed / "bin" / "harness-refarch"), "check", str(REPO / "charts" / "harness-prod"),
                           "-q", "--refarch-profile", "demo", "--refarch-update"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out[-3000:]
    assert "would write golden files into the installed harness-refarch package" in out
    assert "golden: refarch/golden" in out and "Traceback" not in out
    after = sorted(p.relative_to(installed) for p in installed.rglob("data/fixtures/golden/**/*") if p.is_file())
    assert after == packaged
