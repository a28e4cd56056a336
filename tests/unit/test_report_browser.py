"""The HTML report in a real browser: headless Chromium renders the matrix, the capacity table
and the chart, and the screenshot is not blank.

Needs Debian's chromium (``apt-get install chromium``); .ci/run installs it and sets
REFARCH_REQUIRE_BROWSER=1, so that CI fails rather than skips when it is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness_refarch.helm.binary import find_helm

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        if os.environ.get("REFARCH_REQUIRE_BROWSER"):
            pytest.fail("REFARCH_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium); the report's browser test did not run")
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of demo and small prod-1 with one failing check, written by a real run."""
    tmp = tmp_path_factory.mktemp("report")
    chart = tmp / "harness-prod"
    shutil.copytree(REPO / "charts" / "harness-prod", chart)
    values = yaml.safe_load((chart / "override-small.yaml").read_text())
    values["platform"]["pipeline-service"]["resources"]["requests"] = None
    (chart / "override-small.yaml").write_text(yaml.safe_dump(values))
    out = tmp / "report.html"
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "pytest") if (REPO / ".venv").is_dir() else "pytest",
         str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-p", "no:cacheprovider", "-q",
         "--refarch-fixtures", str(REPO / "fixtures"), "--refarch-helm", str(find_helm()),
         "--chart-path", str(chart), "--refarch-profile", "demo", "--refarch-profile", "small",
         "--refarch-architecture", "demo", "--refarch-architecture", "prod-1-incluster",
         "--refarch-report", str(out), "--refarch-node-shape", "8,32Gi"],
        capture_output=True, text=True, check=False, cwd=tmp)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert out.is_file(), proc.stdout[-2000:]
    return out


def test_chromium_renders_matrix_capacity_and_chart(chromium: str, report: Path, tmp_path: Path) -> None:
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          report.as_uri()], capture_output=True, text=True, timeout=120, check=False).stdout
    assert "<svg" in dom, dom[:500]
    assert "small-prod-1-incluster" in dom and "demo-demo" in dom
    assert "container_resources" in dom or "container resources" in dom
    assert "8,32Gi" in dom  # the node plan column of the capacity table
    assert 'href="#result-' in dom  # failures link to their details

    shot = tmp_path / "report.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}",
                    "--window-size=1400,2400", "--hide-scrollbars", report.as_uri()],
                   capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 20_000, "blank or missing screenshot"
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((140, 240)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 20, "the screenshot shows (almost) a single colour"
