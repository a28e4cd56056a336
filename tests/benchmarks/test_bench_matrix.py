"""Whole-run benchmarks of the full matrix (pytest-benchmark; never asserts on durations).

``pytest tests/benchmarks/test_bench_matrix.py --benchmark-only``: the helm floor (the same
``helm template`` calls run two at a time), a cold run without the render cache, a warm run
from the cache, and ``-n 2``. The README's "Measured runs" table comes from here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness_refarch.helm import find_helm
from harness_refarch.session import Options, RefarchSession

REPO = Path(__file__).resolve().parents[2]
SUITE = [sys.executable, "-m", "pytest", str(REPO / "tests" / "conformance"), "--rootdir", str(REPO),
         "-q", "-p", "no:cacheprovider"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # The render cache in a fresh directory (which also moves the helm cache: name helm itself).
    return {**os.environ, "HARNESS_REFARCH_CACHE": str(tmp_path_factory.mktemp("cache")),
            "HELM_BIN": str(find_helm())}


def _run(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run([*SUITE, *args], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_helm_floor_two_at_a_time(benchmark) -> None:
    """The same helm template calls as a full run (pairs, standbys, second renders), 2 at a time."""
    rs = RefarchSession(Options(chart=REPO / "charts" / "harness-prod", fixtures=REPO / "fixtures", cache=False))
    requests = [r for p in rs.pairs for r in rs.requests_for(p)]
    requests += [rs.request(p, repeat=1) for p in {p.architecture.name: p for p in rs.pairs}.values()]
    binary = str(rs.helm.binary)

    def floor() -> None:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda r: subprocess.run([binary, *r.template_args()], capture_output=True, check=True),
                          requests))

    benchmark.pedantic(floor, rounds=3, iterations=1)
    rs.close()


def test_full_matrix_cold(benchmark, cache: dict[str, str]) -> None:
    benchmark.pedantic(_run, args=(["--refarch-no-cache"], cache), rounds=3, iterations=1)


def test_full_matrix_warm(benchmark, cache: dict[str, str]) -> None:
    _run([], cache)  # fill the cache
    benchmark.pedantic(_run, args=([], cache), rounds=3, iterations=1)


def test_full_matrix_warm_two_workers(benchmark, cache: dict[str, str]) -> None:
    _run([], cache)
    benchmark.pedantic(_run, args=(["-n", "2"], cache), rounds=3, iterations=1)
