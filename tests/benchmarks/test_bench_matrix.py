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

from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.helm.binary import find_helm

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


def _helm_calls(with_lint: bool) -> tuple[str, list[list[str]]]:
    """The helm calls of a full run: pairs, DR standbys, one second render per architecture
    (and, with ``with_lint``, one ``helm lint --strict`` per pair), in the order the run queues them."""
    rs = RefarchSession(Options(chart=REPO / "charts" / "harness-prod", fixtures=REPO / "fixtures", cache=False))
    requests = [r for p in rs.pairs for r in rs.requests_for(p, previous=False)]
    requests += [rs.request(p, repeat=1) for p in {p.architecture.name: p for p in rs.pairs}.values()]
    calls = [r.template_args() for r in requests]
    if with_lint:
        calls += [rs.request(p).lint_args() for p in rs.pairs]
    binary = str(rs.helm.binary)
    rs.close()
    return binary, calls


def _two_at_a_time(binary: str, calls: list[list[str]]) -> None:
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda args: subprocess.run([binary, *args], capture_output=True, check=True), calls))


def test_helm_floor_two_at_a_time(benchmark) -> None:
    """The same helm template calls as a full run (pairs, standbys, second renders), 2 at a time."""
    benchmark.pedantic(_two_at_a_time, args=_helm_calls(with_lint=False), rounds=3, iterations=1)


def test_helm_floor_with_lint_two_at_a_time(benchmark) -> None:
    """Every helm call of a full run, the lints included, 2 at a time: what a cold run cannot beat."""
    benchmark.pedantic(_two_at_a_time, args=_helm_calls(with_lint=True), rounds=3, iterations=1)


def test_pytest_floor_empty_tests(benchmark, tmp_path: Path) -> None:
    """For scale: as many empty parametrised tests as a full run has, same plugins loaded."""
    (tmp_path / "test_empty.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('i', range(1118))\ndef test_empty(i):\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    benchmark.pedantic(lambda: subprocess.run(command, cwd=tmp_path, capture_output=True, check=True),
                       rounds=3, iterations=1)


def test_full_matrix_cold(benchmark, cache: dict[str, str]) -> None:
    benchmark.pedantic(_run, args=(["--refarch-no-cache"], cache), rounds=3, iterations=1)


def test_full_matrix_warm(benchmark, cache: dict[str, str]) -> None:
    _run([], cache)  # fill the cache
    benchmark.pedantic(_run, args=([], cache), rounds=3, iterations=1)


def test_full_matrix_warm_two_workers(benchmark, cache: dict[str, str]) -> None:
    _run([], cache)
    benchmark.pedantic(_run, args=(["-n", "2"], cache), rounds=3, iterations=1)


def test_full_matrix_cold_two_workers(benchmark, cache: dict[str, str]) -> None:
    benchmark.pedantic(_run, args=(["--refarch-no-cache", "-n", "2"], cache), rounds=3, iterations=1)
