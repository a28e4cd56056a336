"""The chart fingerprint and the values reader see the files helm loads (issue 14)."""

from __future__ import annotations

import shutil
from pathlib import Path

from harness_refarch.chart.tree import chart_values, load_chart
from harness_refarch.helm.store import chart_digest, render_digest
from harness_refarch.model.chart_files import walk

REPO = Path(__file__).resolve().parents[2]
TINY = {"Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n", "values.yaml": "a: 1\n",
        "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}


def _chart(root: Path) -> Path:
    for rel, text in TINY.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_an_edit_behind_a_symlinked_templates_folder_changes_the_fingerprint(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "chart")
    shared = tmp_path / "shared-templates"
    shutil.move(chart / "templates", shared)
    (chart / "templates").symlink_to(shared, target_is_directory=True)
    before = chart_digest(chart)
    (shared / "cm.yaml").write_text((shared / "cm.yaml").read_text().replace("name: x", "name: y"))
    assert chart_digest(chart) != before


def test_a_chart_whose_own_path_has_a_dot_git_component_is_fingerprinted(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "repo" / ".git" / "worktrees" / "chart")
    before = chart_digest(chart)
    assert [str(rel) for rel, _ in walk(chart)] == sorted(TINY)
    (chart / "values.yaml").write_text("a: 2\n")
    assert chart_digest(chart) != before


def test_the_charts_own_git_folder_is_left_out_and_a_link_loop_is_walked_once(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "chart")
    (chart / ".git").mkdir()
    (chart / ".git" / "HEAD").write_text("ref: x\n")
    (chart / "templates" / "loop").symlink_to(chart / "templates", target_is_directory=True)
    assert [str(rel) for rel, _ in walk(chart)] == sorted(TINY)


def test_values_of_a_symlinked_subchart_are_read(tmp_path: Path) -> None:
    chart = _chart(tmp_path / "umbrella")
    sub = _chart(tmp_path / "elsewhere" / "sub")
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 0.1.0\n")
    (sub / "values.yaml").write_text("replicaCount: 3\n")
    (chart / "charts").mkdir()
    (chart / "charts" / "sub").symlink_to(sub, target_is_directory=True)
    assert chart_values(load_chart(chart))["sub"]["replicaCount"] == 3


def test_a_profile_file_is_in_the_render_key_only_as_the_values_file_that_passes_it(tmp_path: Path) -> None:
    """Editing override-large.yaml leaves the other profiles' renders cache hits (issue 17),
    unless a template of the chart itself can read its files."""
    chart = _chart(tmp_path / "chart")
    (chart / "override-large.yaml").write_text("a: 2\n")
    before = render_digest(chart), chart_digest(chart)
    (chart / "override-large.yaml").write_text("a: 3\n")
    assert render_digest(chart) == before[0] and chart_digest(chart) != before[1]
    (chart / "values.yaml").write_text("a: 4\n")
    assert render_digest(chart) != before[0]
    for reads_files in ('{{ .Files.Get "override-large.yaml" }}', "{{ tpl .Values.a . }}"):
        (chart / "templates" / "files.yaml").write_text(f"# {reads_files}\n")
        before = render_digest(chart), chart_digest(chart)
        (chart / "override-large.yaml").write_text(reads_files)
        assert render_digest(chart) != before[0]
