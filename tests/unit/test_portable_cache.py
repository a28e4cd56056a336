"""The render cache travels (issue 17 item 5): keys are content digests, never places.

A CI cache restored on another machine, or the cache of one checkout read from another
directory, makes its renders hits: the chart and values files are keyed by content, helm by its
version and the digest of its program file (not its path). Findings kept in the store that name
an input file (yamllint's ``file:line``) name the file of the run that reads them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness_refarch.engine.session import portable_findings
from harness_refarch.helm.binary import Helm
from harness_refarch.helm.store import RenderStore
from harness_refarch.model.findings import Finding

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
RENDERS = re.compile(r"harness-refarch: (\d+) distinct render\(s\), (\d+) from the render cache, (\d+) by helm")


def _fake_helm(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_helm_is_known_by_version_and_content_not_by_path(tmp_path: Path) -> None:
    one = Helm(_fake_helm(tmp_path / "a" / "helm", "v3.99.1"))
    elsewhere = Helm(_fake_helm(tmp_path / "b" / "bin" / "helm", "v3.99.1"))
    assert one.identity == elsewhere.identity and "sha256:" in one.identity
    assert str(tmp_path) not in one.identity
    other = _fake_helm(tmp_path / "c" / "helm", "v3.99.1")
    other.write_text(other.read_text() + "# another program that says the same version\n")
    assert Helm(other).identity != one.identity


def test_stored_findings_name_the_files_of_the_run_that_reads_them(tmp_path: Path) -> None:
    store = RenderStore(tmp_path / "renders")
    computed: list[Path] = []

    def lint(path: Path) -> list[Finding]:
        computed.append(path)
        return [Finding("yamllint", path.name, "line 2", "valid YAML", "trailing spaces", source=f"{path}:2",
                        hint=f"yamllint {path}")]

    first, second = tmp_path / "checkout-1" / "values.yaml", tmp_path / "elsewhere" / "co" / "values.yaml"
    made = portable_findings(store, "k" * 64, lambda: lint(first), (first,))
    read = portable_findings(store, "k" * 64, lambda: lint(second), (second,))
    assert computed == [first]  # the second run is answered by the store
    assert made[0].source == f"{first}:2" and read[0].source == f"{second}:2"
    assert read[0].hint == f"yamllint {second}" and read[0].workload == "values.yaml"
    stored = "".join(p.read_text() for p in (tmp_path / "renders").rglob("*.json"))
    assert str(first) not in stored  # the entry holds no place


def _run(checkout: Path, helm: Path, cache: Path) -> tuple[str, Any]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k != "HELM_BIN"}
    env.update(PYTHONDONTWRITEBYTECODE="1", HARNESS_REFARCH_CACHE=str(cache))
    report = checkout / "report.json"
    cmd = [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider", "-q",
           "--refarch-helm", str(helm), "--chart-path", str(checkout / "charts" / "harness-prod"),
           "--refarch-fixtures", str(checkout / "fixtures"), "--refarch-values", str(checkout / "my-values.yaml"),
           "--refarch-profile", "demo", "--refarch-profile", "small", "--refarch-architecture", "demo",
           "--refarch-architecture", "prod-1-incluster", "--refarch-report", str(report)]
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, errors="replace",
                          timeout=600, check=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]  # the values file's lint finding
    return proc.stdout, json.loads(report.read_text())


def test_a_cache_made_in_one_checkout_gives_hits_in_another(tmp_path: Path, real_helm: Path) -> None:
    cache = tmp_path / "cache"
    other_helm = tmp_path / "tools" / "helm"  # the same helm installed elsewhere
    other_helm.parent.mkdir()
    try:
        os.link(real_helm.resolve(), other_helm)
    except OSError:
        shutil.copy2(real_helm.resolve(), other_helm)
    checkouts = []
    for name in ("first", "second/deeper"):
        checkout = tmp_path / name / "repo"
        shutil.copytree(REPO / "charts" / "harness-prod", checkout / "charts" / "harness-prod")
        shutil.copytree(REPO / "fixtures", checkout / "fixtures")
        (checkout / "my-values.yaml").write_text("global:\n  ingress:\n    className: harness   \n")
        checkouts.append(checkout)
    out_first, first = _run(checkouts[0], real_helm, cache)
    out_second, second = _run(checkouts[1], other_helm, cache)
    made, reused = RENDERS.search(out_first), RENDERS.search(out_second)
    assert made is not None and reused is not None, out_first[-2000:] + out_second[-2000:]
    assert int(made.group(1)) >= 4 and made.group(2) == "0"
    assert reused.group(1) == reused.group(2) == made.group(1) and reused.group(3) == "0", out_second[-2000:]
    sources = {str(f["source"]) for f in second["findings"] if f["check"] == "yamllint"}
    assert sources and all(s.startswith(str(checkouts[1] / "my-values.yaml")) for s in sources), sources
    assert [r["outcome"] for r in first["results"]] == [r["outcome"] for r in second["results"]]
