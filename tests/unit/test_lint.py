"""helm lint findings in helm's own words (issue 14): one finding per message, matchable by a waiver."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness_refarch.engine.session import _lint, lint_findings
from harness_refarch.engine.waivers import baseline, load_waivers
from harness_refarch.helm.binary import Helm
from harness_refarch.helm.render import RenderRequest

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "harness-prod"

V4_OUTPUT = """==> Linting chart
[INFO] Chart.yaml: icon is recommended
[ERROR] templates/: harness-prod/templates/bad.yaml:1:10
  executing "harness-prod/templates/bad.yaml" at <.Values.nope.x>:
    nil pointer evaluating interface {}.x
"""
V3_OUTPUT = """==> Linting chart
[INFO] Chart.yaml: icon is recommended
[ERROR] templates/: template: harness-prod/templates/bad.yaml:1:10: executing "harness-prod/templates/bad.yaml" \
at <.Values.nope.x>: nil pointer evaluating interface {}.x
"""


def test_each_message_is_one_finding_in_helms_words_whatever_the_helm_major() -> None:
    v4, v3 = lint_findings(V4_OUTPUT), lint_findings(V3_OUTPUT)
    assert v4 == v3, (v4, v3)
    (finding,) = v4
    assert finding.workload == "harness-prod/templates/bad.yaml"
    assert finding.field == 'error: executing "harness-prod/templates/bad.yaml" at <.Values.nope.x>: ' \
                            "nil pointer evaluating interface {}.x"
    assert "1:10" not in finding.field  # an edit above the problem does not make it a new one


def test_lint_messages_never_print_secrets() -> None:
    (finding,) = lint_findings("[ERROR] values.yaml: bad mongodb://admin:hunter2@db:27017/x\n")
    assert "hunter2" not in str(finding)


def _broken_copy(tmp_path: Path, *templates: str) -> Path:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    for i, body in enumerate(templates):
        (chart / "templates" / f"broken-{i}.yaml").write_text(body)
    return chart


def test_a_baseline_of_one_lint_error_does_not_waive_a_second_one(tmp_path: Path, real_helm: Path) -> None:
    bad_name = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"
    one = _broken_copy(tmp_path / "one", bad_name.format("Not_A_Name"))
    first = _lint(Helm(real_helm), RenderRequest(one, kube_version="1.29.0"))
    assert [f.workload for f in first] == ["templates/broken-0.yaml"], first
    waivers_file = tmp_path / "baseline.yaml"
    waivers_file.write_text(baseline(("demo-demo", f) for f in first))
    waivers = load_waivers(waivers_file)

    two = _broken_copy(tmp_path / "two", bad_name.format("Not_A_Name"), bad_name.format("Second_Bad_Name"))
    second = _lint(Helm(real_helm), RenderRequest(two, kube_version="1.29.0"))
    assert len(second) == 2, second
    failing, waived = waivers.split(second, "demo-demo")
    assert [f for f, _ in waived] == first
    assert len(failing) == 1 and "Second_Bad_Name" in failing[0].field, failing


@pytest.mark.parametrize("text", ["", "==> Linting x\n[INFO] Chart.yaml: icon is recommended\n"])
def test_output_without_messages_gives_no_finding(text: str) -> None:
    assert lint_findings(text) == []
