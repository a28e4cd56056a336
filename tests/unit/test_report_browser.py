"""The HTML report in a real browser: headless Chromium renders the top problems, the matrix,
the capacity table and the chart; at 1400 px the page needs no horizontal scroll (for a real
run and for a run the size of the released chart's), "Top problems" with its first rows is on
the first screen, and the screenshot is not blank.

Needs Debian's chromium (``apt-get install chromium``); .ci/run installs it and sets
REFARCH_REQUIRE_BROWSER=1, so that CI fails rather than skips when it is missing.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_report import large_data

from harness_refarch.helm.binary import find_helm
from harness_refarch.report.document import render_html

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
    waivers = tmp / "waivers.yaml"  # one of its findings is known: the report calls it baseline
    waivers.write_text(yaml.safe_dump({"waivers": [{
        "check": "resources", "pair": "small-*", "workload": "Deployment/pipeline-service*",
        "field": "resources.requests.cpu", "reason": "known since 0.1"}]}))
    out = tmp / "report.html"
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "pytest") if (REPO / ".venv").is_dir() else "pytest",
         str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-p", "no:cacheprovider", "-q",
         "--refarch-fixtures", str(REPO / "fixtures"), "--refarch-helm", str(find_helm()),
         "--chart-path", str(chart), "--refarch-profile", "demo", "--refarch-profile", "small",
         "--refarch-architecture", "demo", "--refarch-architecture", "prod-1-incluster",
         "--refarch-report", str(out), "--refarch-node-shape", "8,32Gi", "--refarch-waivers", str(waivers)],
        capture_output=True, text=True, check=False, cwd=tmp)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert out.is_file(), proc.stdout[-2000:]
    return out


def test_a_real_run_opens_with_its_root_causes_new_and_baseline(report: Path) -> None:
    """No browser needed: the plugin gives the report the run's root causes (as the terminal and
    SARIF show them), waived ones as baseline, and the chart's name and version as the title."""
    text = report.read_text(encoding="utf-8")
    assert re.search(r"<title>harness-prod \S+: ", text) and str(report.parent) not in text
    top = text[text.index('id="top-problems"'):text.index('id="matrix"')]
    rows = re.findall(r"<tr><td><a[^>]*>\d+</a></td>.*?</tr>", top)
    assert rows, top[:2000]
    assert "Deployment/pipeline-service" in rows[0] and 'class="st new"' in rows[0], rows[0]
    assert 'class="st baseline"' in rows[-1] and "Deployment/pipeline-service" in rows[-1], rows[-1]
    assert "waived: known since 0.1" in text


# Added to a copy of the page (the report itself has no script): what Chromium laid out.
PROBE = """<script>(() => {
const d = document.documentElement, heading = document.getElementById("top-problems");
const first = document.querySelector("table.top tbody tr");
const wide = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > d.clientWidth)
  .slice(0, 5).map(e => e.tagName + "." + e.className);
document.body.setAttribute("data-layout", JSON.stringify({scroll: d.scrollWidth, client: d.clientWidth,
  width: innerWidth, height: innerHeight, top: heading ? heading.getBoundingClientRect().top : -1,
  first: first ? first.getBoundingClientRect().bottom : -1, wide: wide}));
})();</script>"""


def layout(chromium: str, page: Path, tmp_path: Path, width: int = 1400, height: int = 900) -> dict[str, Any]:
    """How Chromium lays out ``page`` in a ``width`` x ``height`` window."""
    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'probe-profile'}", "--dump-dom",
                          f"--window-size={width},{height}", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    found = re.search(r'data-layout="([^"]*)"', dom)
    assert found, dom[:500]
    measured: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    assert measured["width"] == width, measured  # the window is the size asked for
    return measured


def assert_fits_with_top_problems_first(measured: dict[str, Any]) -> None:
    assert measured["scroll"] <= measured["client"], f"scrolls sideways: {measured}"
    assert 0 <= measured["top"] < measured["height"] and 0 < measured["first"] <= measured["height"], measured


def test_chromium_renders_top_problems_matrix_capacity_and_chart(chromium: str, report: Path, tmp_path: Path) -> None:
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          report.as_uri()], capture_output=True, text=True, timeout=120, check=False).stdout
    assert "<svg" in dom, dom[:500]
    assert "small-prod-1-incluster" in dom and "demo-demo" in dom
    assert "container_resources" in dom or "container resources" in dom
    assert "8,32Gi" in dom  # the node plan column of the capacity table
    assert 'id="top-problems"' in dom and "Deployment/pipeline-service" in dom
    assert 'href="#problem-1"' in dom  # top problems link to their findings
    assert "<title>harness-prod " in dom and str(report.parent) not in dom  # chart and version, not a path

    assert_fits_with_top_problems_first(layout(chromium, report, tmp_path))

    shot = tmp_path / "report.png"
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}",
                    "--window-size=1400,900", "--hide-scrollbars", report.as_uri()],
                   capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 20_000, "blank or missing screenshot"
    from PIL import Image

    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        colours = rgb.resize((140, 90)).getcolors(maxcolors=1 << 16)
        badges = dict((colour, n) for n, colour in rgb.getcolors(maxcolors=1 << 22) or []).get((0xCF, 0x22, 0x2E), 0)
    assert colours is not None and len(colours) > 20, "the screenshot shows (almost) a single colour"
    assert badges > 50, "no red error badge of a top problem on the first screen"


def test_a_run_the_size_of_the_released_charts_fits_1400_px(chromium: str, tmp_path: Path) -> None:
    """21 pairs, 26 checks, 300+ root causes with long unbreakable values: no sideways scroll."""
    page = tmp_path / "large.html"
    page.write_text(render_html(large_data()), encoding="utf-8")
    measured = layout(chromium, page, tmp_path)
    assert_fits_with_top_problems_first(measured)
    narrower = layout(chromium, page, tmp_path, width=1280)
    assert narrower["scroll"] <= narrower["client"], narrower
