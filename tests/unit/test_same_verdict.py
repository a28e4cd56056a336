"""A verdict is a function of the inputs (issue 13 items 1 and 2), end to end.

The conformance suite runs in a subprocess, as a user runs it, on a copy of the embedded chart
with three planted objects that made verdicts depend on things other than the inputs:

* a ConfigMap with a hard-coded token: the render store masks it, so a stored render and a
  fresh one used to disagree about it (the determinism check compared a stored, masked render
  with a fresh raw one and called the token "differs");
* two Jobs named anew on every render, as released charts name their migration and Patroni
  Jobs: one with a six-letter suffix (``ti-migration-wjwtqj``), one with two characters
  (``harness-patroni-ou``). Neither suffix has the shape of a random name part, so they used
  to reach test ids, finding keys and baselines.

Item 1: every test id has the same outcome whether the render cache is cold, partly warm (after
a narrower ``-k``), warm, off, or shared by ``-n 2`` workers.
Item 2: two cold runs give the same test ids, and a baseline written by one run gates the next.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
# Two pairs: demo-demo, and small-prod-1-incluster, whose capacity test compares it with demo-demo.
PAIRS = ("--refarch-profile", "demo", "--refarch-profile", "small",
         "--refarch-architecture", "demo", "--refarch-architecture", "prod-1-incluster")
# Renders small-prod-1-incluster (and its second render) and, for the capacity comparison,
# demo-demo's first render only: the next full run finds demo-demo in the cache but renders its
# second render fresh.
NARROWER = ("-k", "small and capacity")

PLANTED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: planted-settings
data:
  PLANTED_API_TOKEN: "hard-coded-t0ken-4711"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "planted-migration-%s" (randAlpha 6 | lower) }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:1.36
          envFrom:
            - configMapRef: {name: planted-settings}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "planted-patroni-%s" (randAlphaNum 2 | lower) }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: patch
          image: busybox:1.36
"""


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("chart") / "harness-prod"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "planted.yaml").write_text(PLANTED)
    return copy


def suite(helm: Path, chart: Path, cache: Path, *args: str, junit: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k != "HELM_BIN"}
    env.update(PYTHONDONTWRITEBYTECODE="1", HARNESS_REFARCH_CACHE=str(cache))
    cmd = [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
           "--refarch-helm", str(helm), "--chart-path", str(chart), *PAIRS, "-q", "--junitxml", str(junit), *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, errors="replace",
                          timeout=300, check=False)


def outcomes(junit: Path) -> dict[str, str]:
    """Outcome by test id from a JUnit XML file: passed, failed, error, skipped or xfail."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
            elif child.tag == "skipped":
                outcome = "xfail" if child.get("type") == "pytest.xfail" else "skipped"
        out[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return out


def differences(first: dict[str, str], second: dict[str, str]) -> list[str]:
    return ([f"only in the first run: {t}" for t in sorted(set(first) - set(second))]
            + [f"only in the second run: {t}" for t in sorted(set(second) - set(first))]
            + [f"{t}: {first[t]} -> {second[t]}" for t in sorted(set(first) & set(second)) if first[t] != second[t]])


def test_every_test_id_has_the_same_outcome_whatever_the_cache(chart: Path, tmp_path: Path,
                                                               real_helm: Path) -> None:
    runs: dict[str, dict[str, str]] = {}

    def run(name: str, cache: str, *args: str) -> None:
        junit = tmp_path / f"{name}.xml"
        proc = suite(real_helm, chart, tmp_path / cache, *args, junit=junit)
        assert proc.returncode in (0, 1), f"{name}: exit {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
        runs[name] = outcomes(junit)

    run("cold", "cache-a")
    run("narrower -k", "cache-b", *NARROWER)
    run("partly warm", "cache-b")
    run("warm", "cache-a")
    run("no cache", "cache-c", "--refarch-no-cache")
    run("-n 2", "cache-d", "-n", "2")
    cold = runs.pop("cold")
    runs.pop("narrower -k")
    assert len(cold) > 50 and "failed" in cold.values()  # the planted token is a true finding
    assert [t for t in cold if "test_deterministic" in t and cold[t] == "passed"]
    for name, got in runs.items():
        assert not differences(cold, got), f"cold vs {name}:\n" + "\n".join(differences(cold, got))


def test_generated_job_names_never_reach_test_ids_or_baselines(chart: Path, tmp_path: Path,
                                                               real_helm: Path) -> None:
    first = suite(real_helm, chart, tmp_path / "cache-1", "--refarch-baseline-update",
                  str(tmp_path / "baseline.yaml"), junit=tmp_path / "first.xml")
    second = suite(real_helm, chart, tmp_path / "cache-2", junit=tmp_path / "second.xml")
    assert first.returncode == second.returncode == 1, first.stdout[-3000:]  # the planted findings
    ids_first, ids_second = outcomes(tmp_path / "first.xml"), outcomes(tmp_path / "second.xml")
    assert not differences(ids_first, ids_second), "\n".join(differences(ids_first, ids_second))
    jobs = sorted({t.split("-Job/", 1)[1] for t in ids_first if "test_container_resources" in t and "-Job/" in t})
    assert jobs == ["planted-migration-*]", "planted-patroni-*]"], jobs
    baseline = yaml.safe_load((tmp_path / "baseline.yaml").read_text())["waivers"]
    job_entries = {e["workload"] for e in baseline if e["workload"].startswith("Job/")}
    assert {"Job/planted-migration-[*] container migrate", "Job/planted-patroni-[*] container patch"} <= job_entries
    assert {e.split(" ", 1)[0] for e in job_entries} == {"Job/planted-migration-[*]", "Job/planted-patroni-[*]"}
    gated = suite(real_helm, chart, tmp_path / "cache-3", "--refarch-waivers", str(tmp_path / "baseline.yaml"),
                  junit=tmp_path / "gated.xml")
    assert gated.returncode == 0, gated.stdout[-3000:]
    assert "stale waiver" not in gated.stdout
    assert "failed" not in outcomes(tmp_path / "gated.xml").values()
