"""The released Harness chart: every finding is a known true root cause, none disappears (issue 13).

``tests/released/root-causes.yaml`` lists, in the waivers format, the true root causes a full run
finds on ``../shared/reference/released-chart/harness`` (each with why it is true). The run uses
that list together with the shipped ``fixtures/waivers.yaml`` (patterns that are intentional in
released charts): a finding no entry explains fails its test (a new or false finding), and an
entry that matches nothing fails the run as stale (a root cause disappeared). The same run is
repeated warm and under ``-n 2``: every test id must have the same outcome.

Skipped, with the reason, when ``../shared`` is not beside the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RELEASED = Path(os.environ.get("REFARCH_RELEASED_CHART",
                               REPO.parent / "shared" / "reference" / "released-chart" / "harness"))
ROOT_CAUSES = REPO / "tests" / "released" / "root-causes.yaml"

pytestmark = pytest.mark.skipif(not (RELEASED / "Chart.yaml").is_file(),
                                reason=f"no released chart at {RELEASED} (set REFARCH_RELEASED_CHART)")


def _waivers(tmp_path: Path) -> Path:
    # The shipped patterns are optional (never stale) for users; here the full matrix renders them,
    # so they must still match: an intentional pattern that disappears is a change to explain.
    shipped = [{k: v for k, v in entry.items() if k != "optional"}
               for entry in yaml.safe_load((REPO / "fixtures" / "waivers.yaml").read_text())["waivers"]]
    known = yaml.safe_load(ROOT_CAUSES.read_text())["waivers"]
    combined = tmp_path / "waivers.yaml"
    combined.write_text(yaml.safe_dump({"waivers": [*shipped, *known]}, sort_keys=False))
    return combined


def _run(tmp_path: Path, real_helm: Path, name: str, *args: str) -> tuple[int, str, dict[str, str]]:
    junit = tmp_path / f"{name}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFARCH_", "ATS_", "PYTEST_"))}
    env["HARNESS_REFARCH_CACHE"] = str(tmp_path / "cache")
    cmd = [sys.executable, "-m", "pytest", str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-q",
           "--tb=line", "-p", "no:cacheprovider", "--chart-path", str(RELEASED), "--refarch-helm", str(real_helm),
           "--refarch-waivers", str(_waivers(tmp_path)), f"--junitxml={junit}", *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=1800)
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kind = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        if kind == "skipped" and "xfail" in (case.find("skipped").get("type") or ""):  # type: ignore[union-attr]
            kind = "xfailed"
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kind
    return proc.returncode, proc.stdout + proc.stderr, outcomes


def test_every_finding_is_a_known_true_root_cause_and_none_disappears(tmp_path: Path, real_helm: Path) -> None:
    code, out, cold = _run(tmp_path, real_helm, "cold")
    problems = [line for line in out.splitlines()
                if line.startswith(("FAILED", "ERROR")) or "stale waiver" in line or "expired waiver" in line]
    assert code == 0, "new, false or vanished root causes on the released chart:\n" + "\n".join(problems[:60])
    assert "xfailed" in cold.values() and len(cold) > 1000
    code, out, warm = _run(tmp_path, real_helm, "warm")
    assert code == 0 and warm == cold, out[-3000:]
    code, out, parallel = _run(tmp_path, real_helm, "parallel", "-n", "2")
    assert code == 0, out[-3000:]
    assert parallel == cold, sorted(k for k in cold if parallel.get(k) != cold[k])[:20]
