"""What a person reads stays bounded on a chart of thousands of workloads: the root-cause
section, a test's failure message and the GitHub annotations list the first ones and count the
rest (``-v`` lists everything in the terminal); the reports keep every finding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness_refarch.checks import severities
from harness_refarch.checks.severities import Gate, Severities
from harness_refarch.model.findings import LINES_SHOWN, Finding, report
from harness_refarch.report import annotations as workflow_commands
from harness_refarch.report import rootcauses

REPO = Path(__file__).resolve().parents[2]
SEVERITIES = severities.load(REPO / "fixtures")
PAIRS = ["demo-demo"]


def _causes(count: int, check: str = "probes") -> list[rootcauses.RootCause]:
    found = [("demo-demo", Finding(check, f"Deployment/svc-{i}", "container c readinessProbe", "set", "missing"))
             for i in range(count)]
    return rootcauses.build(found, Gate(SEVERITIES), pair_order=PAIRS)


def test_the_listing_shows_the_first_root_causes_and_counts_the_rest_by_check() -> None:
    causes = _causes(70) + _causes(5, "replicas")
    causes.sort(key=rootcauses.sort_key)
    lines = rootcauses.listing(causes, lambda rc: "demo-demo", limit=50, indent="  ", rest="see the report")
    assert len(lines) == 51
    assert all(line.startswith("  ") for line in lines)
    assert lines[-1] == ("  ... and 25 more root cause(s) not listed here (25 failing; per check: probes 25): "
                         "see the report")
    assert lines[0].startswith("  ERROR   replicas: Deployment/svc-0: container c readinessProbe")  # most severe first
    everything = rootcauses.listing(causes, lambda rc: "demo-demo", limit=None)
    assert len(everything) == 75 and not any("not listed" in line for line in everything)
    assert rootcauses.listing(causes[:3], lambda rc: "x") == rootcauses.listing(causes[:3], lambda rc: "x", limit=None)


def test_a_failure_message_shows_at_most_its_limit_of_lines_then_counts_the_rest() -> None:
    # Different actual values: collapsing by place cannot fold them into one line.
    found = [Finding("resources", f"Deployment/svc-{i:04}", "container c cpu request", "set", f"{i}m")
             for i in range(LINES_SHOWN + 12)]
    message = report(found, "demo-demo")
    lines = message.splitlines()
    assert lines[0] == f"{LINES_SHOWN + 12} finding(s) for demo-demo:"
    assert len(lines) == 1 + LINES_SHOWN + 1
    assert lines[-1] == ("  ... and 12 more line(s) not shown: -v shows them all, and --refarch-report keeps "
                         "every finding")
    assert len(report(found, "demo-demo", None).splitlines()) == 1 + LINES_SHOWN + 12
    assert report(found[:3], "demo-demo") == report(found[:3], "demo-demo", None)


def test_annotations_stop_at_what_github_shows_per_kind_and_say_how_many_are_left_out(tmp_path: Path) -> None:
    found = [("demo-demo", Finding("replicas", f"Deployment/r-{i:02}", "replicas", ">= 3", "1")) for i in range(25)]
    found += [("demo-demo", Finding("image-tag-pinned", f"Deployment/w-{i}", "container c image", "a tag", "c:latest"))
              for i in range(3)]
    gate = Gate(SEVERITIES)
    notices = [("demo-demo", Finding("probes", f"Deployment/n-{i:02}", "container c readinessProbe", "set", "missing"))
               for i in range(12)]
    levels = Severities({**SEVERITIES.levels, "probes": "info"}, SEVERITIES.helps, "test")
    causes = rootcauses.build(found + notices, Gate(levels), pair_order=PAIRS)
    lines = workflow_commands.lines(causes, tmp_path)
    kinds = [line.split(" ", 1)[0] for line in lines]
    assert kinds.count("::error") == 10 and kinds.count("::warning") == 3
    assert kinds.count("::notice") == 10  # nine root causes and the one that counts the rest
    assert lines[-1].startswith("::notice title=harness-refarch%3A more root causes::18 more root cause(s) "
                                "not annotated: GitHub shows 10 annotations of each kind per step.")
    few = rootcauses.build(found[:4], gate, pair_order=PAIRS)
    assert len(workflow_commands.lines(few, tmp_path)) == 4  # nothing left out: no counting notice


# Forty Deployments without probes: 80 root causes (a liveness and a readiness probe each).
TEMPLATE = (
    '{{- range $i := until (int .Values.count) }}\n---\n'
    '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w{{ $i }}"}, "spec": {"replicas": 1, '
    '"selector": {"matchLabels": {"w": "w{{ $i }}"}}, "template": {"metadata": {"labels": {"w": "w{{ $i }}"}}, '
    '"spec": {"containers": [{"name": "c", "image": "nginx:1.25", "resources": {"requests": '
    '{"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "16Mi"}}}]}}}}\n'
    '{{- end }}\n')


def test_a_chart_of_many_workloads_lists_fifty_root_causes_unless_verbose(pytester: pytest.Pytester,
                                                                          real_helm: Path) -> None:
    chart = pytester.path / "many"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: many\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("count: 40\n")
    (chart / "override-demo.yaml").write_text("{}\n")
    (chart / "templates" / "deployments.yaml").write_text(TEMPLATE)
    args = (str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-p", "no:cacheprovider",
            "--refarch-fixtures", str(REPO / "fixtures"), "--refarch-helm", str(real_helm), "--refarch-no-cache",
            "--chart-path", str(chart), "-k", "test_best_practices")
    result = pytester.runpytest_subprocess(*args)
    out = result.outlines
    assert result.ret == 1, "\n".join(out[-40:])
    section = next(i for i, line in enumerate(out) if "harness-refarch: root causes" in line)
    assert out[section + 1].startswith("80 root cause(s) of 80 finding(s)"), out[section + 1]
    causes = [line for line in out[section:] if line.startswith(("ERROR ", "WARNING ", "INFO "))]
    assert len(causes) == 50
    assert re.search(r"^\.\.\. and 30 more root cause\(s\) not listed here \(\d+ failing; per check: probes 30\): "
                     r"-v lists them all", "\n".join(out[section:]), re.M), "\n".join(out[section:])
    verbose = pytester.runpytest_subprocess(*args, "-v").outlines
    section = next(i for i, line in enumerate(verbose) if "harness-refarch: root causes" in line)
    assert len([line for line in verbose[section:] if line.startswith(("ERROR ", "WARNING ", "INFO "))]) == 80
    assert not any("not listed here" in line for line in verbose)
