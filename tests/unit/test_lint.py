"""helm lint findings in helm's own words (issue 14): one finding per message, matchable by a waiver."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness_refarch.engine.session import _lint, lint_findings
from harness_refarch.engine.waivers import baseline, load_waivers
from harness_refarch.helm import install as install_helm
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


SCHEMA = ('{"type": "object", "properties": {"zzA": {"type": "integer"}, "zzC": {"type": "integer"}, '
          '"zzB": {"type": "integer"}}}')
V4_SCHEMA_OUTPUT = """==> Linting chart
[INFO] Chart.yaml: icon is recommended
[ERROR] values.yaml: - at '/zzC': got string, want integer
- at '/zzA': got string, want integer

[ERROR] templates/: values don't meet the specifications of the schema(s) in the following chart(s):
harness-prod:
- at '/zzC': got string, want integer
- at '/zzA': got string, want integer
sub:
- at '/zzB': got string, want integer

"""


def test_each_schema_violation_is_its_own_finding_in_a_stable_order() -> None:
    """helm prints a values schema's violations one per line, not indented, in no stable order."""
    found = lint_findings(V4_SCHEMA_OUTPUT + "Error: 1 chart(s) linted, 1 chart(s) failed\n")
    assert [(f.workload, f.field) for f in found] == [
        ("values.yaml", "error: - at '/zzA': got string, want integer"),
        ("values.yaml", "error: - at '/zzC': got string, want integer"),
        ("templates/", "error: values don't meet the specifications of the schema(s) in the following chart(s): "
                       "harness-prod: - at '/zzA': got string, want integer"),
        ("templates/", "error: values don't meet the specifications of the schema(s) in the following chart(s): "
                       "harness-prod: - at '/zzC': got string, want integer"),
        ("templates/", "error: values don't meet the specifications of the schema(s) in the following chart(s): "
                       "sub: - at '/zzB': got string, want integer"),
    ], found
    swapped = V4_SCHEMA_OUTPUT.replace("'/zzC'", "'/tmp'").replace("'/zzA'", "'/zzC'").replace("'/tmp'", "'/zzA'")
    assert lint_findings(swapped) == lint_findings(V4_SCHEMA_OUTPUT)


def _schema_copy(tmp_path: Path, *bad_keys: str) -> Path:
    chart = _broken_copy(tmp_path)
    (chart / "values.schema.json").write_text(SCHEMA)
    with (chart / "values.yaml").open("a") as fh:
        fh.writelines(f"{key}: not-a-number\n" for key in bad_keys)
    return chart


@pytest.mark.parametrize("major", ["3", "4"])
def test_a_baseline_of_one_schema_violation_does_not_waive_a_second_one(tmp_path: Path, real_helm: Path,
                                                                        major: str) -> None:
    """The second violation sorts after the first, so helm often prints it on the line that
    used to be dropped: it must fail, whatever order helm chose."""
    helm = install_helm.installed_path(major)
    helm = Helm(helm if helm.is_file() else real_helm)
    first = _lint(helm, RenderRequest(_schema_copy(tmp_path / "one", "zzA"), kube_version="1.29.0"))
    assert first and all("zzA" in f.field for f in first), first
    waivers_file = tmp_path / "baseline.yaml"
    waivers_file.write_text(baseline(("demo-demo", f) for f in first))
    waivers = load_waivers(waivers_file)
    for attempt in range(3):  # helm's order is random: each attempt is another chance to hide zzC
        second = _lint(helm, RenderRequest(_schema_copy(tmp_path / f"two-{attempt}", "zzA", "zzC"),
                                           kube_version="1.29.0"))
        failing, waived = waivers.split(second, "demo-demo")
        assert sorted(f for f, _ in waived) == sorted(first), (waived, first)
        assert failing and all("zzC" in f.field and "zzA" not in f.field for f in failing), failing


@pytest.mark.parametrize("text", ["", "==> Linting x\n[INFO] Chart.yaml: icon is recommended\n"])
def test_output_without_messages_gives_no_finding(text: str) -> None:
    assert lint_findings(text) == []
