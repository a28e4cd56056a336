"""Benchmarks of schema validation (pytest-benchmark): every object of all 19 renders of the
embedded chart, cold and warm. Run with ``pytest tests/benchmarks/test_bench_schema.py
--benchmark-only`` and copy the numbers into the README. Target: at most 1 ms per object
amortised over the matrix (issue 8).

* ``cold_start``: nothing loaded: the definitions are read and every validator is built.
* ``cold``: definitions and validators in memory, no cached results (a new content every time).
* ``warm``: every object seen before: the content-hash cache answers.

Each benchmark stores ``objects`` and ``ms_per_object`` in its ``extra_info``. They never assert on
durations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness_refarch.checks import schema
from harness_refarch.checks.apis import deprecated_apis
from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.helm.render import RenderCache
from harness_refarch.model.manifest import Manifest

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "fixtures" / "schemas"
KUBE = "1.29.0"


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    session = RefarchSession(Options(chart=REPO / "charts" / "harness-prod", fixtures=REPO / "fixtures"))
    requests = [r for p in session.pairs for r in session.requests_for(p, previous=False)]
    cache = RenderCache(session.helm, workers=2)
    try:
        cache.prefetch(requests)
        return [cache.get(r) for r in requests]
    finally:
        cache.close()


def _validate_all(manifests: list[Manifest]) -> int:
    findings = 0
    for m in manifests:
        findings += len(schema.validate(m, KUBE, SCHEMAS).findings)
    return findings


def _record(benchmark: Any, manifests: list[Manifest]) -> None:
    objects = sum(len(m.objects) for m in manifests)
    benchmark.extra_info["objects"] = objects
    benchmark.extra_info["ms_per_object"] = round(benchmark.stats.stats.mean * 1000 / objects, 4)


def test_schema_cold_start(benchmark: Any, manifests: list[Manifest]) -> None:
    assert len(manifests) == 19
    result = benchmark.pedantic(_validate_all, args=(manifests,), setup=schema.clear_cache, rounds=5, iterations=1)
    assert result == 0
    _record(benchmark, manifests)


def test_schema_cold(benchmark: Any, manifests: list[Manifest]) -> None:
    _validate_all(manifests)  # definitions loaded, validators built

    def forget_results() -> None:
        schema._RESULTS.clear()

    result = benchmark.pedantic(_validate_all, args=(manifests,), setup=forget_results, rounds=5, iterations=1)
    assert result == 0
    _record(benchmark, manifests)


def test_schema_warm(benchmark: Any, manifests: list[Manifest]) -> None:
    _validate_all(manifests)
    assert benchmark(_validate_all, manifests) == 0
    _record(benchmark, manifests)


def test_api_lifecycle(benchmark: Any, manifests: list[Manifest]) -> None:
    assert benchmark(lambda: sum(len(deprecated_apis(m, KUBE)) for m in manifests)) == 0
    _record(benchmark, manifests)
