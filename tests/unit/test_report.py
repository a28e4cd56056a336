"""The release-qualification report: HTML, Markdown and JSON writers, capacity rows, terminal table."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest, parse_manifest
from harness_refarch.report.capacity import NodeShape, plan
from harness_refarch.report.data import CapacityRow, PairResult, ReportData, TestResult
from harness_refarch.report.document import (
    capacity_row,
    render_html,
    render_json,
    render_markdown,
    report_format,
    terminal_table,
    write_report,
)

GiB = 2**30
SECRET = "hunter2"
PLANTED_URI = f"mongodb://u:{SECRET}@h/db"
PLANTED_KV = f"password={SECRET}"


def manifest(*docs: dict[str, Any]) -> Manifest:
    return parse_manifest(yaml.safe_dump_all(docs), "harness", "unit")


def deployment(name: str, replicas: int, containers: list[dict[str, Any]], kind: str = "Deployment",
               init: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": containers}
    if init:
        pod["initContainers"] = init
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}}, "spec": pod}, **spec}
    if kind in ("Deployment", "StatefulSet"):
        body["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": body}


def container(name: str, cpu: str | None = None, memory: str | None = None, cpu_limit: str | None = None,
              memory_limit: str | None = None, restart: str | None = None) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", memory_limit)) if v}
    out: dict[str, Any] = {"name": name, "image": "x/y:1", "resources": {"requests": requests, "limits": limits}}
    if restart:
        out["restartPolicy"] = restart
    return out


def sample_manifest() -> Manifest:
    return manifest(
        deployment("web", 3, [container("web", "1", "1Gi", "2", "2Gi")]),
        deployment("db", 2, [container("db", "500m", "2Gi", memory_limit="2Gi")], kind="StatefulSet",
                   serviceName="db", volumeClaimTemplates=[
                       {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]),
        deployment("agent", 0, [container("agent", "100m", "128Mi", "200m", "256Mi")], kind="DaemonSet"),
        deployment("migrate", 0, [container("migrate", "250m", "256Mi", "500m", "512Mi")], kind="Job"),
    )


def test_capacity_row_counts_pods_replicas_requests_limits_storage() -> None:
    row = capacity_row(sample_manifest())
    assert row.workloads == 4
    assert row.pods == 3 + 2 + 1 + 1  # the DaemonSet and the Job count one pod each
    assert row.replicas == 5
    assert row.cpu_requested == pytest.approx(3 + 1 + 0.1 + 0.25)
    assert row.memory_requested == 3 * GiB + 4 * GiB + 128 * 2**20 + 256 * 2**20
    assert row.cpu_limited == pytest.approx(6 + 0.2 + 0.5)  # the StatefulSet sets no CPU limit...
    assert row.cpu_unlimited == 2  # ...so its two pods are unbounded
    assert row.memory_limited == 6 * GiB + 4 * GiB + 256 * 2**20 + 512 * 2**20
    assert row.memory_unlimited == 0
    assert row.storage == 20 * GiB


def test_capacity_row_applies_init_container_rules() -> None:
    m = manifest(deployment("a", 2, [container("app", "1", "1Gi", "1", "1Gi")],
                            init=[container("setup", "3", "512Mi", "4", "512Mi"),
                                  container("proxy", "100m", "64Mi", "100m", "64Mi", restart="Always")]))
    row = capacity_row(m)
    # ordinary init container: max(app + sidecar, init) per pod; the sidecar adds to the app
    assert row.cpu_requested == pytest.approx(2 * 3)
    assert row.memory_requested == 2 * (GiB + 64 * 2**20)
    assert row.cpu_limited == pytest.approx(2 * 4)
    assert row.memory_limited == 2 * (GiB + 64 * 2**20)


# -- a report with every outcome ----------------------------------------------------------------

def sample_data() -> ReportData:
    m = sample_manifest()
    row = capacity_row(m)
    demo = CapacityRow(10, 12, 12, 2.5, 4.0, 12 * GiB, 13 * GiB, 16 * GiB)
    pairs = [
        PairResult("demo-demo", "demo", "demo", demo),
        PairResult("large-prod-3-incluster", "large", "prod-3-incluster", row,
                   {"8,32Gi": plan(m, NodeShape.parse("8,32Gi")), "1,2Gi": plan(m, NodeShape.parse("1,2Gi"))}),
        PairResult("large-prod-1-incluster", "large", "prod-1-incluster", row),
    ]
    heap = Finding("resources", "Deployment/web", "MEMORY (configMap ConfigMap/web:MEMORY)", "<= 75% of 2Gi",
                   f"{PLANTED_KV} <script>alert(1)</script> | pipe", hint="lower MEMORY",
                   source="override-large.yaml:12 platform.web.memory")
    wiring = Finding("wiring", "Deployment/web", "env MONGO_URI", "secretKeyRef", PLANTED_URI)
    results = [
        TestResult("test_jvm_heap[large-prod-3-incluster-Deployment/web]", "large-prod-3-incluster", "jvm_heap",
                   "Deployment/web", "fail", f"1 finding(s): {PLANTED_URI}", [heap]),
        TestResult("test_jvm_heap[large-prod-3-incluster-StatefulSet/db]", "large-prod-3-incluster", "jvm_heap",
                   "StatefulSet/db", "fail", "second failure", [heap]),
        TestResult("test_jvm_heap[large-prod-1-incluster-Deployment/web]", "large-prod-1-incluster", "jvm_heap",
                   "Deployment/web", "pass"),
        TestResult("test_database_wiring[large-prod-3-incluster]", "large-prod-3-incluster", "database_wiring",
                   "", "waived", "", [wiring], waiver_reason=f"tracked in JIRA-1; {PLANTED_KV}"),
        TestResult("test_database_wiring[demo-demo]", "demo-demo", "database_wiring", "", "error",
                   f"helm failed: --set global.password={SECRET}"),
        TestResult("test_hpa_bounds[demo-demo]", "demo-demo", "hpa_bounds", "", "skipped", "no HPA"),
        TestResult("test_hpa_bounds[large-prod-3-incluster]", "large-prod-3-incluster", "hpa_bounds", "", "pass"),
    ]
    return ReportData(chart="harness-prod", chart_version="0.31.0", kube_version="1.29.0", helm_version="v4.1.4",
                      generated_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), pairs=pairs, results=results)


VOID = ("br", "meta", "line", "rect", "path", "col")


class Page(HTMLParser):
    """Tags, ids, links, table texts and raw text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def of(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert page.stack == [], f"unclosed tags: {page.stack}"
    return page


def test_html_is_one_self_contained_page_with_matrix_capacity_and_chart() -> None:
    html = render_html(sample_data())
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    # self-contained: no external stylesheet, script, font or image; only in-page links
    assert not page.of("link") and not page.of("script") and not page.of("img")
    assert "@import" not in html and "url(" not in html
    for tag, attrs in page.tags:
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                assert str(attrs[name]).startswith("#"), (tag, attrs)
    assert set(re.findall(r"https?://[^\s\"'<]+", html)) == {"http://www.w3.org/2000/svg"}
    # top problems, the matrix (a row per check, a column per pair), the findings
    tables = {word for a in page.of("table") for word in str(a.get("class")).split()}
    assert {"top", "matrix", "findings", "capacity"} <= tables
    text = " ".join(page.text)
    for check in ("jvm_heap", "database_wiring", "hpa_bounds"):
        assert check in text
    titles = {str(a.get("title")) for a in page.of("td")}
    assert {"2 fail", "1 waived", "1 skipped", "1 error"} <= titles
    # the capacity table: pods, replicas, requests, limits and storage per pair
    assert "effective replicas" in text and "PVC storage" in text and "20Gi" in text
    assert "nodes of 8,32Gi" in text
    # the chart: inline SVG, a bar per profile and resource, a dashed minimum line
    assert len(page.of("svg")) == 2
    assert len([a for a in page.of("rect") if a.get("class") == "bar"]) == 2 * 2  # demo, large
    dashed = [a for a in page.of("line") if a.get("stroke-dasharray")]
    assert len(dashed) == 2
    assert "min 3" in text and "min 14" in text


def test_html_links_lead_to_their_targets_and_each_top_problem_to_its_findings() -> None:
    page = parse(render_html(sample_data()))
    links = [str(a["href"])[1:] for a in page.of("a") if a.get("href")]
    assert all(target in page.ids for target in links), set(links) - page.ids
    problems = {i for i in page.ids if i.startswith("problem-")}
    assert problems == {"problem-1", "problem-2"}  # web's heap (found by two tests: one finding), its waived wiring
    assert problems <= set(links)


def test_html_escapes_and_masks_everything() -> None:
    html = render_html(sample_data())
    page = parse(html)
    assert SECRET not in html
    assert "****" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert not page.of("script")


def test_markdown_tables() -> None:
    md = render_markdown(sample_data())
    assert SECRET not in md and "****" in md
    assert "<script>" not in md
    lines = md.splitlines()

    def table_after(heading: str) -> list[str]:
        start = lines.index(heading)
        rows = []
        for line in lines[start + 1:]:
            if line.startswith("## "):
                break
            if line.startswith("|"):
                rows.append(line)
            elif rows:
                break
        return rows

    def cells(line: str) -> int:
        return len(re.split(r"(?<!\\)\|", line)) - 2

    matrix = table_after("## Conformance matrix")
    assert cells(matrix[0]) == 1 + 3 and re.fullmatch(r"\|(:?-+:?\|)+", matrix[1])  # check, three pairs
    assert len(matrix) == 2 + 3  # header, rule, three checks
    assert all(cells(row) == cells(matrix[0]) for row in matrix)
    assert matrix[2].startswith("| jvm_heap |") and "**2**" in matrix[2]
    top = table_after("## Top problems")
    assert len(top) == 2 + 2 and all(cells(row) == 7 for row in top)
    assert top[2].endswith("| new |") and top[3].endswith("| baseline |")
    capacity = table_after("## Capacity per pair")
    assert len(capacity) == 2 + 3
    assert all(cells(row) == cells(capacity[0]) for row in capacity)
    assert "nodes of 8,32Gi" in capacity[0]
    # a pipe inside a finding does not break its table
    findings = [line for line in lines if line.startswith("| MEMORY (configMap ConfigMap/web:MEMORY) |")]
    assert len(findings) == 1 and cells(findings[0]) == 4  # field, expected, actual, set by (the hint: "fix:")
    assert r"\| pipe" in md


def test_json_lists_every_finding() -> None:
    data = sample_data()
    doc = json.loads(render_json(data))
    assert doc["schema"] == "harness-refarch-report/1"
    assert doc["chart_version"] == "0.31.0" and doc["generated_at"] == "2025-01-02 03:04:05 UTC"
    assert doc["summary"] == {"pass": 2, "fail": 2, "waived": 1, "skipped": 1, "error": 1}
    assert doc["documented_minimum"]["cpu"] == 3.0 and doc["documented_minimum"]["memory"] == 14 * GiB
    test_findings = [f for f in doc["findings"] if f["test_id"] is not None]
    assert len(test_findings) == sum(len(r.findings) for r in data.results)
    for f in doc["findings"]:
        assert {"check", "pair", "workload", "field", "expected", "actual", "source", "outcome"} <= set(f)
    heap = next(f for f in test_findings if f["check"] == "resources")
    assert heap["source"] == "override-large.yaml:12 platform.web.memory"
    assert heap["pair"] == "large-prod-3-incluster"
    # pods that fit no node are findings too
    unplaced = [f for f in doc["findings"] if f["outcome"] == "unschedulable"]
    assert unplaced and all(f["node_shape"] == "1,2Gi" for f in unplaced)
    large = next(p for p in doc["pairs"] if p["pair"] == "large-prod-3-incluster")
    assert large["capacity"]["pods"] == 7 and large["capacity"]["storage"] == 20 * GiB
    assert large["plans"]["8,32Gi"]["nodes"] >= 1
    assert SECRET not in json.dumps(doc)


def test_messages_are_masked_even_if_the_caller_forgot() -> None:
    data = sample_data()
    for text in (render_html(data), render_markdown(data), render_json(data), "\n".join(terminal_table(data.pairs))):
        assert SECRET not in text


@pytest.mark.parametrize(("name", "fmt"), [
    ("r.html", "html"), ("r.htm", "html"), ("report", "html"), ("r.txt", "html"),
    ("r.md", "markdown"), ("R.MD", "markdown"), ("r.json", "json"),
])
def test_format_follows_the_suffix(name: str, fmt: str) -> None:
    assert report_format(Path(name)) == fmt


def test_write_report_writes_each_format_atomically(tmp_path: Path) -> None:
    data = sample_data()
    for name in ("out/report.html", "out/report.md", "out/report.json"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("old content")
        write_report(path, data)
        text = path.read_text()
        assert "old content" not in text
        assert SECRET not in text
    assert json.loads((tmp_path / "out/report.json").read_text())["chart"] == "harness-prod"
    assert (tmp_path / "out/report.md").read_text().startswith("# harness-prod 0.31.0: reference-architecture")
    # no temporary files left behind (the lock files are hidden and expected)
    leftovers = [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_terminal_table_is_aligned_one_line_per_pair() -> None:
    data = sample_data()
    lines = terminal_table(data.pairs)
    assert len(lines) == 1 + len(data.pairs)
    assert lines[0].split()[:3] == ["pair", "pods", "replicas"]
    for line, pair in zip(lines[1:], data.pairs, strict=True):
        assert line.startswith(pair.pair_id)
    # right-aligned numeric columns end where their header ends
    end = lines[0].index("pods") + len("pods")
    assert all(line[end - 1] != " " and line[end] == " " for line in lines)
    assert "nodes 8,32Gi" in lines[0]
    assert lines[1].split()[-1] == "-"  # demo has no plan
    large = lines[2]
    assert re.search(r"\b\d+ \((cpu|memory|pods-per-node|anti-affinity|topology-spread)\)", large)


def test_test_result_rejects_unknown_outcomes() -> None:
    with pytest.raises(ValueError, match="not one of pass, fail, waived, skipped, error"):
        TestResult("t", "p", "c", outcome="xpassed")


def test_empty_report_still_renders() -> None:
    data = ReportData("c", "1", "1.29.0", "v4", "now")
    parse(render_html(data))
    assert "No test results were collected." in render_markdown(data)
    assert json.loads(render_json(data))["findings"] == []


HOSTILE = "[click me](https://evil.example) ![pixel](https://tracker.example/p.png) <img src=x onerror=alert(1)> `code`"


def test_markdown_never_passes_html_links_or_images_from_chart_content() -> None:
    """Issue 14: the .md report becomes a pull-request comment; chart text must stay text."""
    data = sample_data()
    hostile = Finding("practices", f"Deployment/{HOSTILE}", HOSTILE, "x", HOSTILE, hint=HOSTILE)
    data.results.append(TestResult(f"test_best_practices[demo-demo-{HOSTILE}]", "demo-demo", "best_practices",
                                   HOSTILE, "fail", HOSTILE, [hostile]))
    md = render_markdown(data)
    outside_code = re.sub(r"(?ms)^```\n.*?^```\n", "", md)  # fenced blocks show text verbatim
    assert "](" in HOSTILE and "](" not in outside_code.replace("\\](", ""), outside_code
    assert "![" not in outside_code and "<img" not in outside_code and "`code`" not in outside_code
    assert "\\[click me\\](https://evil.example)" in outside_code


# -- triage: top problems, each finding once, a matrix that fits, the title, the size -----------

PROFILES = ("small", "medium", "large", "prod")
ARCHITECTURES = ("prod-1-incluster", "prod-3-incluster", "prod-3-external-self-managed", "prod-3-external-cloud",
                 "dr-warm-standby")
CHECKS = [f"check_number_{i:02d}_of_the_suite" for i in range(26)]


def large_data(chart_dir: str = "/home/someone/src/charts/harness") -> ReportData:
    """A run the size of the released chart's: 21 pairs, 26 checks, ~1,000 failing tests, ~330
    root causes, each found in many pairs, long messages and unbreakable words."""
    pairs = [("demo-demo", "demo", "demo")] + [
        (f"{p}-{a}", p, a) for a in ARCHITECTURES for p in PROFILES]
    capacity = CapacityRow(40, 60, 55, 30.0, 60.0, 80 * GiB, 120 * GiB, 500 * GiB)
    results: list[TestResult] = []
    for n, (pair_id, _, _) in enumerate(pairs):
        for c, check in enumerate(CHECKS):
            workloads = [f"Deployment/service-{w:02d}" for w in range(12)] if c < 3 else [""]
            for w, workload in enumerate(workloads):
                findings = []
                if (c + w + n) % 4 != 0:  # most tests fail, as on the released chart
                    for k in range(5 if c < 3 else 6):
                        findings.append(Finding(
                            f"rule-{c}", workload or f"Deployment/service-{k:02d} container wait-for-{k} (init)",
                            f"spec.template.spec.containers[{k}].resources.limits.memory.{'x' * 60}",
                            f">= {k + 1}Gi for the {check} reference sizing", f"{k}Mi ({'y' * 90})",
                            hint=f"raise it in values.yaml; {'documented sizing ' * 4}",
                            source=f"{chart_dir}/values.yaml:{100 + k} platform.service-{k:02d}.memory"))
                outcome = "fail" if findings else "pass"
                message = "" if not findings else (f"{len(findings)} finding(s) for {pair_id}:\n"
                                                   + "\n".join(f"  - [{f.check}] {f}" for f in findings) * 4)
                results.append(TestResult(f"test_{check}[{pair_id}-{workload}]", pair_id, check, workload, outcome,
                                          message[:4000], findings))
    return ReportData(chart=chart_dir, chart_name="harness", chart_dir=chart_dir, chart_version="0.31.0",
                      kube_version="1.29.0", helm_version="v4.1.4", generated_at="2025-01-02 03:04:05 UTC",
                      pairs=[PairResult(i, p, a, capacity) for i, p, a in pairs], results=results)


def test_large_run_gives_a_report_under_300_kb() -> None:
    """The released chart's full matrix printed ~2.4 MB: every failing test with its findings and
    raw message, for every pair. Each finding once with its pairs keeps it small."""
    data = large_data()
    failing = [r for r in data.results if r.outcome == "fail"]
    assert len(failing) > 900 and len({f for r in failing for f in r.findings}) > 300
    html = render_html(data)
    assert len(html.encode()) < 300_000, len(html.encode())
    parse(html)


def test_title_names_the_chart_and_version_never_a_local_path() -> None:
    data = large_data("/home/someone/src/charts/harness")
    html = render_html(data)
    page = parse(html)
    assert re.search(r"<title>harness 0\.31\.0\b", html), html[:400]
    assert "/home/someone" not in html  # nor in the findings: their sources are relative to the chart
    assert "values.yaml:100 platform.service-00.memory" in " ".join(page.text)
    md = render_markdown(data)
    assert md.startswith("# harness 0.31.0") and "/home/someone" not in md
    # without Chart.yaml's name, the folder's name, still no path
    unnamed = ReportData(chart="/home/someone/src/charts/harness", chart_version="1.0", kube_version="1.29.0",
                         helm_version="v4", generated_at="now")
    assert "<title>harness 1.0" in render_html(unnamed) and "/home/someone" not in render_html(unnamed)
    assert json.loads(render_json(data))["chart_name"] == "harness"


def test_each_finding_appears_once_with_the_pairs_it_holds_for() -> None:
    everywhere = Finding("resources", "Deployment/api container api", "resources.limits.memory", "set",
                         "missing (unique-actual-1)", hint="set it", source="override-small.yaml:7 platform.api")
    some = Finding("replicas", "Deployment/api", "spec.replicas", ">= 2", "1 (unique-actual-2)")
    pairs = [PairResult(f"{p}-prod-3", p, "prod-3", CapacityRow(1, 1, 1, 1.0, 1.0, GiB, GiB, 0))
             for p in ("small", "medium", "large")]
    results = []
    for pair in pairs:
        found = [everywhere, *([some] if pair.profile != "small" else [])]
        for test in ("container_resources", "best_practices"):  # two tests find the same thing
            results.append(TestResult(f"test_{test}[{pair.pair_id}]", pair.pair_id, test, "", "fail",
                                      "\n".join(str(f) for f in found), found))
    data = ReportData("harness", "1.0", "1.29.0", "v4", "now", pairs=pairs, results=results)
    html = render_html(data)
    assert html.count("unique-actual-1") == 1 and html.count("unique-actual-2") == 1
    page = parse(html)
    text = " ".join(page.text)
    assert "all 3 pairs" in text
    assert "2 pairs: medium-prod-3, large-prod-3" in text
    md = render_markdown(data)
    assert md.count("unique-actual-1") == 1 and md.count("unique-actual-2") == 1


def test_top_problems_come_first_most_severe_first_new_before_baseline() -> None:
    from harness_refarch.checks.severities import Severities

    severities = Severities({"loud": "error", "soft": "warning", "quiet": "info"})
    pair = PairResult("small-prod-3", "small", "prod-3", CapacityRow(1, 1, 1, 1.0, 1.0, GiB, GiB, 0))
    other = PairResult("large-prod-3", "large", "prod-3", CapacityRow(1, 1, 1, 1.0, 1.0, GiB, GiB, 0))

    def result(check: str, workload: str, pairs: list[PairResult], outcome: str = "fail", reason: str = "") -> list[
            TestResult]:
        f = Finding(check, workload, "spec.x", "y", "z")
        return [TestResult(f"test_{check}[{p.pair_id}-{workload}]", p.pair_id, check, workload, outcome, "", [f],
                           waiver_reason=reason) for p in pairs]

    results = [*result("quiet", "Deployment/a", [pair, other]), *result("soft", "Deployment/b", [pair]),
               *result("loud", "Deployment/c", [pair], "waived", "known since 1.0"),
               *result("soft", "Deployment/d", [pair, other]), *result("loud", "Deployment/e", [pair])]
    data = ReportData("harness", "1.0", "1.29.0", "v4", "now", pairs=[pair, other], results=results,
                      severities=severities)
    html = render_html(data)
    top = html[html.index('id="top-problems"'):html.index('id="matrix"')]
    rows = re.findall(r'<span class="sev (\w+)">\w+</span></td><td>(\w+)</td><td>([^<]+)</td>.*?'
                      r'<td>([^<]+)</td><td><span class="st (\w+)">', top)
    assert [(sev, obj, status) for sev, _, obj, _, status in rows] == [
        ("error", "Deployment/e", "new"), ("warning", "Deployment/d", "new"), ("warning", "Deployment/b", "new"),
        ("info", "Deployment/a", "new"), ("error", "Deployment/c", "baseline")]
    assert [pairs for *_, pairs, _ in rows] == ["small-prod-3", "all 2 pairs", "small-prod-3", "all 2 pairs",
                                                "small-prod-3"]
    # the page opens with them: before the matrix, the findings and the capacity table
    assert html.index('id="top-problems"') < html.index('id="matrix"') < html.index('id="findings"') \
        < html.index('id="capacity"')
    doc = json.loads(render_json(data))
    assert [(c["workload"], c["severity"], c["status"]) for c in doc["root_causes"]][-1] == \
        ("Deployment/c", "error", "baseline")


def test_matrix_has_a_row_per_check_and_a_column_per_pair_with_short_cells() -> None:
    data = large_data()
    page = parse(render_html(data))
    html = render_html(data)
    matrix = html[html.index('<table class="matrix'):html.index("</table>", html.index('<table class="matrix'))]
    assert 'class="matrix fit"' in matrix and "table-layout: fixed" in html  # never wider than the page
    body = matrix[matrix.index("<tbody>"):]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    assert len(rows) == len(CHECKS)
    for row in rows:
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        assert len(cells) == len(data.pairs)
        assert all(len(c) <= 3 for c in cells), cells  # a count or a mark, not a run of links
    assert "<a " not in body
    assert page.of("table")
