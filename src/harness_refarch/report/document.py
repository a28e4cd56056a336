"""The release-qualification report: one HTML page, Markdown or JSON from one data model.

Release qualification asks "is this chart version conformant for every profile and
architecture, and what does each need?". Pytest's dots do not answer that, so the plugin
collects a :class:`TestResult` per test and a :class:`PairResult` (capacity, node plans) per
pair into a :class:`ReportData`, and :func:`write_report` renders it:

* HTML (default, ``.html``/``.htm`` or any other suffix): one self-contained page (inline CSS
  and SVG, nothing fetched), rendered by Jinja2 with autoescaping. It opens with the top
  problems (root causes grouped by rule and object, :mod:`harness_refarch.report.triage`), then a
  check x pair matrix of counts, each finding once with its pairs, capacity and node plans;
* Markdown (``.md``): the same sections as tables, e.g. for a pull-request comment;
* JSON (``.json``): machine-readable, every finding with check, pair, workload, field,
  expected, actual and source, and the root causes.

Every string shown passes through :func:`harness_refarch.model.redact.mask` (Jinja2's ``finalize``
hook for the templates, a recursive pass for JSON) as a second line of defence behind the
manifest model, which never holds Secret values in the first place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness_refarch.checks.severities import Severities
from harness_refarch.model import markdown
from harness_refarch.model.files import write_atomic
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Container, Manifest
from harness_refarch.model.quantities import QuantityError, cpu_cores, format_bytes, format_cores, memory_bytes
from harness_refarch.model.redact import mask
from harness_refarch.model.usage import totals
from harness_refarch.report import triage
from harness_refarch.report.capacity import NodePlan
from harness_refarch.report.data import OUTCOMES, CapacityRow, PairResult, ReportData
from harness_refarch.report.rootcauses import RootCause

SCHEMA = "harness-refarch-report/1"
_GIB = 2**30


def _quantity(parse: Any, value: object) -> float | None:
    try:
        return float(parse(value)) if value is not None else None
    except QuantityError:
        return None


def _pod_limit(containers: Sequence[Container], res: str) -> tuple[float, bool]:
    """(effective limit of one pod from the limits that are set, whether any app container lacks one).

    Kubernetes' rule, as for requests: the app containers (and sidecar init containers) summed,
    or the largest ordinary init container, whichever is bigger.
    """
    parse = cpu_cores if res == "cpu" else memory_bytes
    app = [c for c in containers if not c.init or c.restart_always]
    init = [c for c in containers if c.init and not c.restart_always]
    app_limits = [_quantity(parse, c.limit(res)) for c in app]
    init_limits = [_quantity(parse, c.limit(res)) for c in init]
    per_pod = max(sum(v for v in app_limits if v is not None),
                  max((v for v in init_limits if v is not None), default=0.0))
    return per_pod, any(v is None for v in app_limits)


def capacity_row(manifest: Manifest) -> CapacityRow:
    """Pods, replicas, requests (from :func:`totals`), limits and PVC storage of one render."""
    usage = totals(manifest).total()
    pods = replicas = 0
    cpu_lim = mem_lim = 0.0
    cpu_open = mem_open = 0
    for w in manifest.workloads.values():
        n = w.replicas if w.replicas is not None else 1
        pods += n
        replicas += w.replicas or 0
        cpu, cpu_missing = _pod_limit(w.containers, "cpu")
        mem, mem_missing = _pod_limit(w.containers, "memory")
        cpu_lim += n * cpu
        mem_lim += n * mem
        cpu_open += n if cpu_missing else 0
        mem_open += n if mem_missing else 0
    return CapacityRow(len(manifest.workloads), pods, replicas, usage.cpu, cpu_lim, usage.memory, int(mem_lim),
                       usage.storage, cpu_open, mem_open)


def _cores(value: float) -> str:
    return format_cores(value) if value > 0 else "0"


def _bytes(value: float) -> str:
    return format_bytes(value) if value > 0 else "0"


def _limit(value: float, unlimited: int, pods: int, fmt: Callable[[float], str]) -> str:
    if pods and unlimited >= pods:
        return "no limit"
    return fmt(value) + (f" (+{unlimited} pods without)" if unlimited else "")


def _capacity_cells(row: CapacityRow) -> dict[str, str]:
    return {
        "workloads": str(row.workloads),
        "pods": str(row.pods),
        "replicas": str(row.replicas),
        "cpu_requested": _cores(row.cpu_requested),
        "cpu_limited": _limit(row.cpu_limited, row.cpu_unlimited, row.pods, _cores),
        "memory_requested": _bytes(row.memory_requested),
        "memory_limited": _limit(row.memory_limited, row.memory_unlimited, row.pods, _bytes),
        "storage": _bytes(row.storage),
    }


def _shapes(pairs: Iterable[PairResult]) -> list[str]:
    return list(dict.fromkeys(label for p in pairs for label in p.plan))


def _plan_cell(plan: NodePlan | None) -> str:
    if plan is None:
        return "-"
    text = f"{plan.nodes} ({plan.binding})"
    return text + (f", {len(plan.unschedulable)} unplaceable" if plan.unschedulable else "")


def terminal_table(rows: Sequence[PairResult]) -> list[str]:
    """The capacity table as aligned plain text: a header line, then one line per pair."""
    shapes = _shapes(rows)
    header = ["pair", "pods", "replicas", "CPU req", "CPU lim", "mem req", "mem lim", "PVC storage",
              *(f"nodes {s}" for s in shapes)]
    table = [header]
    for r in rows:
        cells = _capacity_cells(r.capacity)
        table.append([r.pair_id, cells["pods"], cells["replicas"], cells["cpu_requested"], cells["cpu_limited"],
                      cells["memory_requested"], cells["memory_limited"], cells["storage"],
                      *(_plan_cell(r.plan.get(s)) for s in shapes)])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    numeric = range(1, len(header))
    out = []
    for line in table:
        parts = [cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(line)]
        out.append(mask("  ".join(parts).rstrip()))
    return out


# -- view model --------------------------------------------------------------------------------

def _generated(value: datetime | str) -> str:
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _finding_dict(f: Finding) -> dict[str, str]:
    return {"check": f.check, "workload": f.workload, "field": f.field, "expected": f.expected,
            "actual": f.actual, "hint": f.hint, "source": f.source}


def _plans(data: ReportData) -> list[dict[str, Any]]:
    out = []
    for p in data.pairs:
        for label, plan in p.plan.items():
            out.append({
                "pair": p.pair_id, "shape": label, "nodes": plan.nodes, "binding": plan.binding,
                "detail": plan.binding_detail, "reserve": f"{plan.reserve:.0%}",
                "allocatable": f"{_cores(plan.allocatable_cpu)} CPU, {_bytes(plan.allocatable_memory)} memory",
                "cpu_utilisation": f"{plan.cpu_utilisation:.0%}",
                "memory_utilisation": f"{plan.memory_utilisation:.0%}",
                "per_node": [{"index": i + 1, "cpu": _cores(u.cpu), "memory": _bytes(u.memory),
                              "cpu_pct": round(100 * min(1.0, u.cpu / plan.allocatable_cpu)) if plan.allocatable_cpu
                              else 0,
                              "memory_pct": round(100 * min(1.0, u.memory / plan.allocatable_memory))
                              if plan.allocatable_memory else 0,
                              "pods": len(u.pods), "names": ", ".join(u.pods)}
                             for i, u in enumerate(plan.usage)],
                "unschedulable": [_finding_dict(f) for f in plan.unschedulable],
            })
    return out


def _ticks(top: float) -> list[float]:
    """Four to six round grid values from 0 to ``top``."""
    if top <= 0:
        return [0.0]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _panel(title: str, unit: str, bars: list[tuple[str, str, float]], minimum: float | None,
           fmt: Callable[[float], str], judged: str) -> dict[str, Any]:
    """Geometry of one bar chart (the template draws it): bars per profile, a dashed minimum line."""
    width, height, left, right, top, bottom = 460, 240, 56, 64, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, _, v in bars] + [minimum or 0.0, 0.0])
    ticks = _ticks(peak * 1.08 if peak else 1.0)
    scale_top = ticks[-1] or 1.0

    def y(value: float) -> float:
        return round(top + plot_h * (1 - value / scale_top), 1)

    slot = plot_w / max(len(bars), 1)
    bar_w = round(min(64.0, slot * 0.6), 1)
    drawn = []
    for i, (label, where, value) in enumerate(bars):
        x = round(left + slot * i + (slot - bar_w) / 2, 1)
        over = label == judged and minimum is not None and value > minimum + 1e-9
        drawn.append({"x": x, "y": y(value), "w": bar_w, "h": round(y(0) - y(value), 1), "label": label,
                      "cx": round(x + bar_w / 2, 1), "value": fmt(value), "title": f"{label}: {fmt(value)} ({where})",
                      "over": over})
    return {
        "title": title, "unit": unit, "width": width, "height": height, "left": left, "right": width - right,
        "baseline": y(0), "label_y": height - bottom + 16, "top": top,
        "ticks": [{"y": y(t), "text": f"{t:g}"} for t in ticks],
        "bars": drawn,
        "minimum": None if minimum is None else {"y": y(minimum), "text": fmt(minimum)},
    }


def _chart(data: ReportData) -> dict[str, Any] | None:
    """Requested CPU and memory per profile (the largest of its architectures) against the minimum."""
    peaks: dict[str, tuple[PairResult, PairResult]] = {}
    for p in data.pairs:
        cpu, mem = peaks.get(p.profile, (p, p))
        peaks[p.profile] = (p if p.capacity.cpu_requested > cpu.capacity.cpu_requested else cpu,
                            p if p.capacity.memory_requested > mem.capacity.memory_requested else mem)
    if not peaks:
        return None
    cpu_bars = [(name, c.architecture, c.capacity.cpu_requested) for name, (c, _) in peaks.items()]
    mem_bars = [(name, m.architecture, m.capacity.memory_requested / _GIB) for name, (_, m) in peaks.items()]
    mem_min = None if data.minimum_memory is None else data.minimum_memory / _GIB
    return {
        "panels": [
            _panel("Requested CPU (cores)", "cores", cpu_bars, data.minimum_cpu, lambda v: f"{v:.3g}",
                   data.minimum_profile),
            _panel("Requested memory (GiB)", "GiB", mem_bars, mem_min, lambda v: f"{v:.3g}", data.minimum_profile),
        ],
        "minimum_label": data.minimum_label, "minimum_profile": data.minimum_profile,
        "minimum": " / ".join(x for x in (
            None if data.minimum_cpu is None else format_cores(data.minimum_cpu),
            None if data.minimum_memory is None else format_bytes(data.minimum_memory)) if x),
    }


def _summary(data: ReportData) -> list[tuple[str, int]]:
    return [(o, sum(1 for r in data.results if r.outcome == o)) for o in OUTCOMES]


def _causes(data: ReportData) -> list[RootCause]:
    if data.root_causes is not None:
        return list(data.root_causes)
    return triage.derive_causes(data.results, data.severities or Severities(), triage.pair_order(data))


def view(data: ReportData) -> dict[str, Any]:
    """Everything the templates show, already laid out; strings are masked when rendered."""
    shapes = _shapes(data.pairs)
    local = triage.localiser([data.chart_dir, data.chart if Path(data.chart).is_absolute() else ""])
    return {
        "title": triage.title(data.chart_name, data.chart, data.chart_version),
        "kube_version": data.kube_version,
        "helm_version": data.helm_version, "generated_at": _generated(data.generated_at),
        "summary": _summary(data), "pair_count": len(triage.pair_order(data)), "matrix": triage.matrix(data),
        **triage.problem_views(data, _causes(data), data.severities or Severities(), local),
        "unexplained": triage.unexplained(data, local),
        "shapes": shapes,
        "capacity": [{"pair": p.pair_id, "profile": p.profile, "architecture": p.architecture,
                      **_capacity_cells(p.capacity), "plans": [_plan_cell(p.plan.get(s)) for s in shapes]}
                     for p in data.pairs],
        "plans": _plans(data), "chart_svg": _chart(data),
    }


# -- rendering ---------------------------------------------------------------------------------

def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` in a template passes through here: strings are masked."""
    return mask(value) if isinstance(value, str) else value


def _md_cell(value: Any) -> str:
    """A Markdown table cell or heading: inert text (see :mod:`harness_refarch.model.markdown`)."""
    return markdown.escape(value)


@functools.cache
def _environment(markdown: bool) -> jinja2.Environment:
    import jinja2  # on first use: only a run that writes a report pays for it

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness_refarch.report", "templates"),
        autoescape=not markdown, finalize=_finalize, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cell"] = _md_cell
    return env


def render_html(data: ReportData) -> str:
    return _environment(False).get_template("report.html.j2").render(**view(data))


def render_markdown(data: ReportData) -> str:
    return _environment(True).get_template("report.md.j2").render(**view(data))


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def _plan_json(plan: NodePlan) -> dict[str, Any]:
    return {
        "shape": {"label": plan.shape.label, "cpu": plan.shape.cpu, "memory": plan.shape.memory,
                  "max_pods": plan.shape.max_pods},
        "reserve": plan.reserve, "nodes": plan.nodes, "pods": plan.pods,
        "allocatable": {"cpu": plan.allocatable_cpu, "memory": plan.allocatable_memory},
        "binding": plan.binding, "binding_detail": plan.binding_detail,
        "per_node": [{"cpu": u.cpu, "memory": u.memory, "pods": list(u.pods)} for u in plan.usage],
        "unschedulable": [_finding_dict(f) for f in plan.unschedulable],
    }


def _cause_json(rc: RootCause) -> dict[str, Any]:
    return {"check": rc.check, "workload": rc.workload, "field": rc.field, "severity": rc.severity,
            "status": "baseline" if rc.waiver else "new", "failing": rc.failing, "waiver": rc.waiver,
            "pairs": list(rc.pairs), "fingerprint": rc.fingerprint, **{
                k: v for k, v in _finding_dict(rc.first).items() if k in ("expected", "actual", "hint", "source")}}


def render_json(data: ReportData) -> str:
    """Machine-readable: results, capacity and plans per pair, and every finding flattened."""
    findings: list[dict[str, str | None]] = [
        {**_finding_dict(f), "pair": r.pair_id, "test_id": r.test_id, "outcome": r.outcome}
                for r in data.results for f in r.findings]
    findings += [{**_finding_dict(f), "pair": p.pair_id, "test_id": None, "outcome": "unschedulable",
                  "node_shape": label}
                 for p in data.pairs for label, plan in p.plan.items() for f in plan.unschedulable]
    doc = {
        "schema": SCHEMA,
        "chart": data.chart, "chart_name": triage.title(data.chart_name, data.chart, ""),
        "chart_version": data.chart_version, "kube_version": data.kube_version,
        "helm_version": data.helm_version, "generated_at": _generated(data.generated_at),
        "documented_minimum": {"label": data.minimum_label, "cpu": data.minimum_cpu, "memory": data.minimum_memory},
        "summary": dict(_summary(data)),
        "pairs": [{"pair": p.pair_id, "profile": p.profile, "architecture": p.architecture,
                   "capacity": {
                       "workloads": p.capacity.workloads, "pods": p.capacity.pods, "replicas": p.capacity.replicas,
                       "cpu_requested": p.capacity.cpu_requested, "cpu_limited": p.capacity.cpu_limited,
                       "cpu_unlimited_pods": p.capacity.cpu_unlimited,
                       "memory_requested": p.capacity.memory_requested,
                       "memory_limited": p.capacity.memory_limited,
                       "memory_unlimited_pods": p.capacity.memory_unlimited, "storage": p.capacity.storage},
                   "plans": {label: _plan_json(plan) for label, plan in p.plan.items()}}
                  for p in data.pairs],
        "results": [{"test_id": r.test_id, "pair": r.pair_id, "check": r.check, "workload": r.workload,
                     "outcome": r.outcome, "message": r.message, "waiver_reason": r.waiver_reason,
                     "findings": [_finding_dict(f) for f in r.findings]} for r in data.results],
        "findings": findings,
        "root_causes": [_cause_json(rc) for rc in _causes(data)],
    }
    if data.run is not None:
        doc["run"] = data.run
    return json.dumps(_masked(doc), indent=2, ensure_ascii=False) + "\n"


def report_format(path: Path) -> str:
    """``markdown`` for ``.md``, ``json`` for ``.json``, otherwise ``html``."""
    suffix = Path(path).suffix.lower()
    return {".md": "markdown", ".markdown": "markdown", ".json": "json"}.get(suffix, "html")


def write_report(path: Path, data: ReportData) -> None:
    """Render ``data`` in the format ``path``'s suffix names and replace ``path`` atomically."""
    renderers = {"markdown": render_markdown, "json": render_json, "html": render_html}
    write_atomic(Path(path), renderers[report_format(path)](data))
