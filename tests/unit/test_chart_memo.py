"""The keys a chart declares and reads are kept in the render store (issue 17): a warm run does
not scan the templates again, and gets exactly what the scan would give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness_refarch.chart.tree import load_chart
from harness_refarch.checks.values_keys import Declared, declared_paths
from harness_refarch.engine import chart_memo
from harness_refarch.helm.store import RenderStore

REPO = Path(__file__).resolve().parents[2]
RELEASED = REPO.parent / "shared" / "reference" / "released-chart" / "harness"
CHARTS = [REPO / "charts" / "harness-prod", REPO / "tests" / "charts" / "acme-platform",
          *([RELEASED] if (RELEASED / "Chart.yaml").is_file() else [])]


class Counted:
    def __init__(self, compute: Any) -> None:
        self.compute, self.calls = compute, 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.compute()


def _fields(d: Declared) -> tuple[Any, ...]:
    return d.paths, d.charts, dict(d.reads), dict(d.aliases), dict(d.children)


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_the_stored_chart_facts_are_exactly_the_computed_ones(tmp_path: Path, chart: Path) -> None:
    node = load_chart(chart)
    store = RenderStore(tmp_path / "renders")
    keys = Counted(lambda: declared_paths(node))
    first, second = chart_memo.declared(store, chart, keys), chart_memo.declared(store, chart, keys)
    assert keys.calls == 1  # the second time from the store
    assert _fields(second) == _fields(first)
    for path in sorted(first.paths)[:400]:
        assert second.status(path) == first.status(path) and second.closest(path) == first.closest(path)


def test_an_entry_of_another_shape_is_a_miss(tmp_path: Path) -> None:
    chart = REPO / "charts" / "harness-prod"
    store = RenderStore(tmp_path / "renders")
    keys = Counted(lambda: declared_paths(chart))
    store.save_doc(chart_memo._key(store, chart, "declared-keys"), {"declared": {"paths": [["a", 1]]}})
    assert chart_memo.declared(store, chart, keys) == keys.compute() and keys.calls == 1
    assert chart_memo.declared(None, chart, keys).paths == keys.compute().paths
