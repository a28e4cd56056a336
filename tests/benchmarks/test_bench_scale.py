"""Scale: one pair of a generated chart of 1,000 and 5,000 Deployments (pytest-benchmark), and
growth: 1x, 4x and 16x the workloads (250, 1,000, 4,000), time and peak memory per object (above
the fixed cost of a 10-object chart, and in all).

``pytest tests/benchmarks/test_bench_scale.py --benchmark-only``. The suite's own work must be
linear in the object count (5,000 within 5.5x of 1,000; per object, time and memory stay flat
from 1x to 16x). Every workload of these charts fails its golden comparison (there is no golden
file), so ``--tb=no`` keeps pytest's FAILURES section, whose cost grows with failures x reports
(pytest's own), out of the measurement; the failures are still counted. Never asserts on
durations: compare the numbers. Peak memory is the pytest process's own high-water mark
(``getrusage(RUSAGE_SELF)`` at exit: helm, a child, is not in it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# -- growth: 1x, 4x, 16x ---------------------------------------------------------------------------
GROWTH = {"base": 10, "1x": 250, "4x": 1000, "16x": 4000}  # base: the fixed cost, subtracted per object
PEAK_PLUGIN = """import os, resource


def pytest_unconfigure(config):
    with open("/proc/self/status") as status:
        rss = next(line.split()[1] for line in status if line.startswith("VmRSS:"))
    with open(os.environ["HARNESS_BENCH_PEAK"], "w") as fh:
        fh.write(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {rss}")
"""


@dataclass(frozen=True)
class Grown:
    objects: int
    seconds: float
    peak_kib: int  # the pytest process's peak resident set (Linux reports KiB)
    exit_kib: int  # its resident set at exit: what the run keeps (renders, tests, reports)
    tests: str


_GROWN: dict[str, Grown] = {}


def _grow(root: Path, count: int) -> Grown:
    chart = scaled_chart(root, count)
    (root / "harness_bench_peak.py").write_text(PEAK_PLUGIN)
    env = {**os.environ, "HARNESS_REFARCH_CACHE": str(root / "cache"), "HELM_BIN": str(find_helm()),
           "HARNESS_BENCH_PEAK": str(root / "peak"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "pytest", str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-q",
           "-p", "no:cacheprovider", "-p", "harness_bench_peak", "--tb=no", "--refarch-no-cache",
           "--chart-path", str(chart)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    assert "failed" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    peak, at_exit = (int(n) for n in (root / "peak").read_text().split())
    return Grown(count, seconds, peak, at_exit, proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("size", list(GROWTH))
def test_growth(benchmark: Any, tmp_path: Path, size: str) -> None:
    """One cold pair of a chart of GROWTH[size] Deployments (helm included): time and peak memory."""
    grown = benchmark.pedantic(_grow, args=(tmp_path, GROWTH[size]), rounds=1, iterations=1)
    benchmark.extra_info.update(objects=grown.objects, peak_kib=grown.peak_kib)
    _GROWN[size] = grown


def _growth_table() -> str:
    base = _GROWN["base"]
    lines = ["", "growth: size | objects | wall s | peak MiB | MiB at exit | per object above the base: "
             "ms, KiB at exit, KiB of peak"]
    for size, g in _GROWN.items():
        cells = [size, str(g.objects), f"{g.seconds:.1f}", f"{g.peak_kib / 1024:.0f}", f"{g.exit_kib / 1024:.0f}"]
        if size != "base":
            above = g.objects - base.objects
            cells.append(f"{1000 * (g.seconds - base.seconds) / above:.2f}, "
                         f"{(g.exit_kib - base.exit_kib) / above:.1f}, {(g.peak_kib - base.peak_kib) / above:.1f}")
        lines.append("  " + " | ".join(cells) + f"  ({g.tests})")
    return "\n".join(lines)


def test_growth_table(benchmark: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Per object, time and peak memory of each size, with and without the fixed cost of a
    10-object chart (a benchmark only so that ``--benchmark-only`` runs it)."""
    if len(_GROWN) != len(GROWTH):
        pytest.skip("run with the test_growth benchmarks (all sizes)")
    table = benchmark.pedantic(_growth_table, rounds=1, iterations=1)
    with capsys.disabled():
        print(table)
