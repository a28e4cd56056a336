"""Scale: one pair of a generated chart of 1,000 and 5,000 Deployments (pytest-benchmark).

``pytest tests/benchmarks/test_bench_scale.py --benchmark-only``. The suite's own work must be
linear in the object count (5,000 within 5.5x of 1,000). Every workload of these charts fails
its golden comparison (there is no golden file), so ``--tb=no`` keeps pytest's FAILURES section,
whose cost grows with failures x reports (pytest's own), out of the measurement; the failures
are still counted. Never asserts on durations: compare the two medians.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness_refarch.helm.binary import find_helm

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = """{{- range $i := until (int .Values.count) }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{{ $i }}
  labels: {app: svc-{{ $i }}}
spec:
  replicas: 1
  selector: {matchLabels: {app: svc-{{ $i }}}}
  template:
    metadata: {labels: {app: svc-{{ $i }}}}
    spec:
      containers:
        - name: c
          image: nginx:1.25
          resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 16Mi}}
{{- end }}
"""


def scaled_chart(root: Path, count: int) -> Path:
    chart = root / f"scale-{count}"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: scale\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(f"count: {count}\n")  # not "n": YAML 1.1 reads that key as false
    (chart / "override-demo.yaml").write_text("{}\n")
    (chart / "templates" / "deployments.yaml").write_text(TEMPLATE)
    return chart


@pytest.mark.parametrize("count", [1000, 5000])
def test_one_pair_of_a_chart_of_n_deployments(benchmark, tmp_path: Path, count: int) -> None:  # type: ignore[no-untyped-def]
    chart = scaled_chart(tmp_path, count)
    env = {**os.environ, "HARNESS_REFARCH_CACHE": str(tmp_path / "cache"), "HELM_BIN": str(find_helm())}
    cmd = [sys.executable, "-m", "pytest", str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-q",
           "-p", "no:cacheprovider", "--tb=no", "--refarch-no-cache", "--chart-path", str(chart)]
    proc = benchmark.pedantic(subprocess.run, args=(cmd,), kwargs={"env": env, "capture_output": True, "text": True},
                              rounds=2, iterations=1)
    assert f"{count} failed" in proc.stdout or "failed" in proc.stdout, proc.stdout[-2000:]
