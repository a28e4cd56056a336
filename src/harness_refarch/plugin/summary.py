"""Reporting hooks of the pytest plugin: what the run tells its users when it ends.

The terminal summary (render failures once, chart and helm, renders and cache hits, the
capacity table, waivers, golden files), the report and baseline files, the one-line status of
tests that failed only because their render failed, and the pytest-xdist plumbing that brings
the workers' results to the controller. Registered by :mod:`harness_refarch.plugin.hooks`.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness_refarch.checks import golden
from harness_refarch.checks.determinism import determinism
from harness_refarch.engine.session import RefarchSession
from harness_refarch.engine.waivers import baseline
from harness_refarch.helm.binary import RUNNING, bounded, known_version
from harness_refarch.helm.render import RenderFailure
from harness_refarch.helm.store import default_dir
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import write_atomic
from harness_refarch.model.findings import Finding
from harness_refarch.plugin import shard
from harness_refarch.plugin.state import RENDER_CATEGORY, ROOT_CAUSE, TEST_FINDINGS, RunState, pair_of, state_of
from harness_refarch.report.document import report_format, terminal_table, write_report
from harness_refarch.report.results import pair_results, report_data, result


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """A test that fails only because its render failed is counted apart: its one-line message
    points at the render failure, which the summary shows once (one root cause, one message)."""
    if report.when == "call" and report.failed and any(k == ROOT_CAUSE for k, _ in report.user_properties):
        return RENDER_CATEGORY, "F", "FAILED (render)"
    if report.when == "call" and report.failed and any(k == golden.ROOT_CAUSE for k, _ in report.user_properties):
        return golden.CATEGORY, "F", "FAILED (golden file)"
    return None


def _write_render_failures(terminalreporter: Any, config: pytest.Config, rs: RefarchSession) -> None:
    """One entry per root cause: the reason (never cut), the renders it broke, the command that
    reproduces the first of them, then helm's output within a budget for the whole section."""
    failures = [RenderFailure(r["label"], **r["failure"]) for r in _render_infos(config, rs) if r["failure"]]
    if not failures:
        return
    terminalreporter.stats.setdefault("failed", [])  # a failed run stays red
    dependent = len(terminalreporter.stats.get(RENDER_CATEGORY, []))
    groups: dict[tuple[str, str], list[RenderFailure]] = {}
    for failure in failures:
        groups.setdefault(failure.cause, []).append(failure)
    terminalreporter.section("harness-refarch: render failures", sep="=", red=True)
    write = terminalreporter.write_line
    write(f"{len(failures)} render(s) failed; {dependent} test(s) failed because of them "
          "(each says 'render ... failed, see the render failures section').")
    budget = 40_000  # characters of quoted helm output in the whole section
    for (reason, output), members in sorted(groups.items(), key=lambda g: (not g[1][0].command, g[0])):
        labels = sorted(f.label for f in members)
        shown = ", ".join(labels[:10]) + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")
        first = min(members, key=lambda f: f.label)
        write(f"- {reason}")
        write(f"  {len(labels)} render(s): {shown}")
        if first.command:
            write("  to reproduce" + (f" ({first.label})" if len(labels) > 1 else "") + ":")
            write("    " + bounded(first.command, 60, 1, max_line=20_000).replace("\n", "\n    "))
        if output:
            quote = bounded(output)
            if len(quote) > budget:
                quote = bounded(output.strip().splitlines()[0], 1, 1) + " ... (more omitted: run the command above)"
            budget -= len(quote)
            write("  helm said:")
            write("    " + quote.replace("\n", "\n    "))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """What was tested: chart, Kubernetes version, helm, user layers, renders, golden files.

    Never calls helm: the version shown is the one asked for during the run, if any.
    """
    rs = state_of(config).session
    if rs is None or not state_of(config).conformance_ran:
        return
    _write_render_failures(terminalreporter, config, rs)
    o = rs.options
    write = terminalreporter.write_line
    helm = rs.helm_found
    version = known_version(helm.binary) if helm is not None else None
    helm_text = f"{helm.binary} ({version or 'version not asked'})" if helm is not None else "not run"
    write(f"harness-refarch: chart {o.chart}, kube {o.kube_version}, helm {helm_text}")
    write(f"harness-refarch: user values {', '.join(str(v) for v in o.values) or 'none'}; "
          + (f"{len(rs.selected_pairs)} of {len(rs.pairs)} (profile, architecture) pair(s) selected"
             if rs.selected_pairs and len(rs.selected_pairs) < len(rs.pairs)
             else f"{len(rs.pairs)} (profile, architecture) pair(s)"))
    shard_line = shard.summary_line(config)
    if shard_line:
        write(shard_line)
    for profile in rs.missing_profiles:
        write(f"harness-refarch: profile {profile} not run: the chart has no override-{profile}.yaml")
    for line in rs.profile_notes():
        write(line)
    infos = _render_infos(config, rs)
    if infos:
        hits = sum(bool(r["cached"]) for r in infos)
        if config.get_verbosity() > 0:
            for r in infos:
                state = "failed" if r["failure"] else "cache hit" if r["cached"] else "cache miss"
                write(f"harness-refarch: render {r['label']}: {r['seconds']:.2f} s ({state})")
        shared = o.cache and state_of(config).cache_disabled()
        where = (" (no render cache; workers shared renders for this run only)" if shared
                 else " (no render cache)" if not o.cache else f" (cache {o.cache_dir or default_dir()})")
        write(f"harness-refarch: {len(infos)} distinct render(s), {hits} from the render cache, "
              f"{len(infos) - hits} by helm{where}")
    for line in sorted({*_volatile_lines(rs), *state_of(config).worker_volatile}):
        write(line)
    pairs = state_of(config).pair_results
    if pairs:
        write("harness-refarch: capacity per pair (effective replicas x requests):")
        for line in terminal_table(pairs):
            write(f"  {line}")
    for what, where in state_of(config).written:
        write(f"harness-refarch: {what} written to {where}")
    for problem in state_of(config).problems:
        write(f"harness-refarch: FAILED {problem}", red=True)
    for line in rs.golden_notes():
        write(line)
    pointing = len(terminalreporter.stats.get(golden.CATEGORY, []))
    if pointing:
        write(f"harness-refarch: {pointing} per-workload golden test(s) failed because their pair's golden file "
              "cannot be compared (missing, or recorded on another chart); test_golden_workloads says why, "
              "once per pair")
    for path, status in rs.golden_written:
        write(f"harness-refarch: golden file {path}: {status}")
    if o.update_golden:
        for path in rs.unused_golden_files():
            if o.prune_golden:
                path.unlink(missing_ok=True)
                write(f"harness-refarch: golden file {path}: removed (no pair uses it)")
            else:
                write(f"harness-refarch: golden file {path}: no pair uses it "
                      "(remove with --refarch-update --refarch-prune)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach each conformance test's outcome and findings to its report (plain data, so that
    pytest-xdist carries it from the workers to the controller, which writes the report)."""
    report = yield
    pair = pair_of(item)
    if pair is None or report.when == "teardown" or (report.when == "setup" and report.passed):
        return report
    if report.when == "call" and report.skipped and hasattr(report, "wasxfail"):
        outcome = "waived"
    elif report.when == "call":
        outcome = "pass" if report.passed else "fail" if report.failed else "skipped"
    else:
        outcome = "error" if report.failed else "skipped"
    props = dict(item.user_properties)
    findings, reason = item.stash.get(TEST_FINDINGS, ([], ""))
    message = "" if report.passed else str(getattr(report, "wasxfail", "") or report.longreprtext)[:4000]
    # One JSON string, not nested dicts: an xdist worker sends it to the controller through
    # execnet's pure-Python serializer, which took a sixth of a warm worker's time walking the
    # findings field by field; json is C on both ends.
    report.refarch = json.dumps({
        "pair": pair.id, "check": str(props.get("check") or getattr(item, "originalname", item.name)),
        "workload": getattr(getattr(item, "callspec", None), "params", {}).get("refarch_workload") or "",
        "outcome": outcome, "message": message, "waiver": reason,
        "findings": [dict(f.__dict__) for f in findings], "order": shard.order_of(item)}, separators=(",", ":"))
    return report


def _volatile_lines(rs: RefarchSession) -> list[str]:
    """One line per architecture: what its determinism renders showed to be generated."""
    lines = []
    for arch, volatility in sorted(rs.learned_volatility().items()):
        known = determinism(volatility, known=True)
        if known:
            shown = "; ".join(f"{f.workload} ({f.actual.split(': ', 1)[-1]})" for f in known[:6])
            more = f"; and {len(known) - 6} more" if len(known) > 6 else ""
            lines.append(f"harness-refarch: {arch}: generated at render time, ignored in comparisons: {shown}{more}")
    return lines


class ResultCollector:
    """Collects each conformance test's result as its report arrives (from this process or an
    xdist worker); registered once per run with that run's state."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        text = getattr(report, "refarch", None)
        if not text or self.state.is_worker:
            return
        data = json.loads(text)
        findings = [Finding(**f) for f in data["findings"]]
        self.state.results.append(result(
            report.nodeid, data["pair"], data["check"], data["workload"], data["outcome"], data["message"],
            findings, data["waiver"]))
        for finding in findings:
            self.state.found[(data["pair"], finding)] = None
        shard.record_order(self.state, report.nodeid, data.get("order"))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist controller: merge what a worker rendered and which waivers it used."""
    config = node.config
    out = getattr(node, "workeroutput", {}).get("refarch")
    if not out:
        return
    state = state_of(config)
    state.workers_conformance = state.workers_conformance or bool(out.get("conformance"))
    state.worker_volatile.extend(out.get("volatile", []))
    if state.worker_renders is None:
        state.worker_renders = {}
    renders = state.worker_renders
    for info in out["renders"]:  # a render one worker made and another read is not a cache hit
        seen = renders.get(info["label"])
        renders[info["label"]] = info if seen is None else {**info, "cached": seen["cached"] and info["cached"]}
    waivers = state_of(config).waivers
    if waivers is not None:
        waivers.merge_usage({int(k): v for k, v in out["waiver_usage"].items()})
    rs = state_of(config).session_or_none()
    if rs is not None and not rs.selected_pairs:
        rs.selected_pairs = [p for p in rs.pairs if p.id in set(out["selected"])]
    elif rs is not None:
        rs.selected_pairs = [p for p in rs.pairs if p in rs.selected_pairs or p.id in set(out["selected"])]


def _render_infos(config: pytest.Config, rs: RefarchSession) -> list[dict[str, Any]]:
    """label, seconds, cached, failure of every render of the run (workers' too, under xdist)."""
    own: list[dict[str, Any]] = [
        {"label": r.label, "seconds": r.seconds, "cached": r.cached, "failure": _failure_fields(r.failure)}
        for r in rs.cache.done()] if rs.cache_started else []
    renders = state_of(config).worker_renders
    if renders is None:
        return sorted(own, key=lambda r: r["label"])
    merged = dict(renders)
    for info in own:  # the controller's head start: what it rendered is no worker's cache hit
        seen = merged.get(info["label"])
        merged[info["label"]] = info if seen is None else {**seen, "cached": seen["cached"] and info["cached"]}
    return sorted(merged.values(), key=lambda r: r["label"])


def _failure_fields(failure: RenderFailure | None) -> dict[str, str] | None:
    """A render failure as plain data (it travels from xdist workers to the controller)."""
    if failure is None:
        return None
    return {"reason": failure.reason, "command": failure.command, "output": failure.output}


def _write_report(session: pytest.Session) -> bool:
    """Compute the capacity of the pairs that ran; write the report if asked (True when written)."""
    config = session.config
    rs = state_of(config).session
    target = state_of(config).opt("--refarch-report")
    if rs is None or config.option.collectonly or (not rs.cache_started and not state_of(config).is_xdist_controller):
        return False
    state = state_of(config)
    pairs = pair_results(rs, state.shapes, state.reserve) if rs.selected_pairs or state.shard is None else []
    state.pair_results = pairs
    if target:
        path = Path(target).expanduser().resolve()
        causes = _root_causes(config)[0] if state.gate is not None else None
        data = report_data(rs, state.results, pairs, causes, state.gate.severities if state.gate is not None else None)
        if report_format(path) == "json" and state.gate is not None:  # what `harness-refarch merge` reads
            selected = rs.selected_pairs or rs.pairs
            data = replace(data, run=shard.report_block(session, _base(config), _layer_paths(rs, selected),
                                                         _stable_workload(rs)))
        write_report(path, data)
        return True
    return False


def _waiver_problems(session: pytest.Session) -> list[str]:
    """Expired waivers, and stale ones when the whole selected matrix ran (no -k/-m/deselect, no
    single test file or test named: a waiver of a check that did not run is not stale)."""
    config = session.config
    waivers = state_of(config).waivers
    rs = state_of(config).session
    if waivers is None or rs is None or config.option.collectonly:
        return []
    out = [f"expired waiver {w.describe()}: {w.reason} (renew it with a new date or fix the finding)"
           for w in waivers.expired()]
    filtered = bool(config.option.keyword or config.option.markexpr or config.getoption("deselect", None)
                    or any("::" in a or a.split("::")[0].endswith(".py") for a in config.option.file_or_dir or ())
                    or state_of(config).shard is not None)  # a shard runs part of the matrix: merge judges
    if not filtered and not session.shouldstop and not session.shouldfail:
        out += [f"stale waiver {w.describe()}: it matches no finding any more; delete it"
                for w in waivers.stale([p.id for p in rs.pairs])]
    return out


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if state_of(config).is_worker:
        rs = state_of(config).session
        waivers = state_of(config).waivers
        config.workeroutput["refarch"] = {  # type: ignore[attr-defined]
            "renders": _render_infos(config, rs) if rs is not None else [],
            "waiver_usage": {str(k): v for k, v in waivers.usage().items()} if waivers is not None else {},
            "selected": [p.id for p in rs.selected_pairs] if rs is not None else [],
            "volatile": _volatile_lines(rs) if rs is not None else [],
            "conformance": rs is not None}
        return
    if not state_of(config).conformance_ran:
        return  # an xdist run of other tests (the project's own): nothing to render or report
    if state_of(config).is_xdist_controller:
        state_of(config).session_or_none()
    written = state_of(config).written
    failed: list[str] = []
    target = state_of(config).opt("--refarch-baseline-update")
    if target and not config.option.collectonly and state_of(config).session is not None:
        found = state_of(config).found
        where = Path(target).expanduser().resolve()
        try:
            write_atomic(where, baseline(found))
            written.append((f"baseline of {len(found)} finding(s)", str(where)))
        except RefarchError as exc:
            failed.append(f"baseline not written: {exc}")
    if exitstatus == pytest.ExitCode.INTERRUPTED or RUNNING.interrupted:
        return  # never wait for renders after Ctrl-C
    try:
        if _write_report(session):
            written.append(("report", str(Path(state_of(config).opt("--refarch-report")).expanduser().resolve())))
    except RefarchError as exc:
        failed.append(f"report not written: {exc}")
    try:
        if _write_sarif(config):
            written.append(("SARIF", str(Path(state_of(config).opt("--refarch-sarif")).expanduser().resolve())))
    except RefarchError as exc:
        failed.append(f"SARIF not written: {exc}")
    problems = [*failed, *state_of(config).problems, *_waiver_problems(session)]
    state_of(config).problems = problems
    if problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist the controller checks the input before any worker starts: bad input is
    one paragraph and exit 4, not one crash per worker (an INTERNALERROR)."""
    config = session.config
    state = state_of(config)
    if state.is_xdist_controller and not config.option.collectonly:
        state.session_or_none()
        if state.asked_for():  # else perhaps a run of other tests: their -n must not need a chart
            state.exit_on_error()


# -- root causes: terminal section, SARIF, GitHub annotations ---------------------------------------

def _base(config: pytest.Config) -> Path:
    """What paths are relative to: the repository under GitHub Actions, else the working directory."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and Path(workspace).is_dir():
        return Path(workspace).resolve()
    return Path(config.invocation_params.dir).resolve()


def _root_causes(config: pytest.Config) -> tuple[list[Any], Any]:
    """(root causes of the run, a function phrasing a root cause's pairs), built once."""
    from harness_refarch.report import rootcauses
    rs = state_of(config).session
    gate = state_of(config).gate
    if rs is None or gate is None:
        return [], None
    pairs = rs.selected_pairs or rs.pairs
    order = [p.id for p in pairs]
    profiles = {p.id: p.profile.name for p in rs.pairs}

    def pair_text(rc: Any) -> str:
        return rootcauses.pair_summary(rc.pairs, order, profiles)

    state = state_of(config)
    if state.causes is None:
        layer_paths = _layer_paths(rs, pairs)
        found: dict[tuple[str, Finding], None] = state_of(config).found
        chart = Path(rs.options.chart)
        fallback = chart / "Chart.yaml" if (chart / "Chart.yaml").is_file() else chart if chart.is_file() else None
        state.causes = rootcauses.build(
            list(found), gate, pair_order=order, layer_paths=layer_paths,
            chart_dir=chart if chart.is_dir() else None, fallback=fallback, waivers=state_of(config).waivers,
            normalise=_stable_workload(rs))
    return state.causes, pair_text


def _layer_paths(rs: RefarchSession, pairs: list[Pair]) -> dict[str, Path]:
    """Each values layer's label (as finding sources name it) -> its file, over ``pairs``."""
    layer_paths: dict[str, Path] = {}
    for pair in pairs:
        for standby in (False, True) if pair.architecture.standby_overlay is not None else (False,):
            try:
                layer_paths.update({layer.origin: layer.path for layer, _, _ in rs.labelled_layers(pair, standby)
                                    if layer.path is not None})
            except RefarchError:
                continue
    return layer_paths


def _stable_workload(rs: RefarchSession) -> Any:
    """(pair id, workload) -> the workload with generated name parts replaced as the determinism
    renders of the pair's architecture learned (names alone where this process learned nothing)."""
    from harness_refarch.model.identity import Volatility

    learned = rs.learned_volatility()
    architecture = {p.id: p.architecture.name for p in rs.pairs}
    plain = Volatility()

    def normalise(pair_id: str, workload: str) -> str:
        head, sep, rest = workload.partition(" ")
        if "/" not in head:
            return workload
        return learned.get(architecture.get(pair_id, ""), plain).normalise(head) + sep + rest

    return normalise


def _write_sarif(config: pytest.Config) -> bool:
    from harness_refarch.report import sarif
    target = state_of(config).opt("--refarch-sarif")
    rs, gate = state_of(config).session, state_of(config).gate
    if not target or rs is None or gate is None or config.option.collectonly:
        return False
    causes, pair_text = _root_causes(config)
    chart = rs.chart
    log = sarif.sarif_log(causes, gate.severities, _base(config), pair_text,
                          chart=chart.name if chart else "", chart_version=chart.version if chart else "")
    write_atomic(Path(target).expanduser().resolve(), sarif.dumps(log))
    return True


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
def pytest_terminal_summary_root_causes(terminalreporter: Any, config: pytest.Config) -> Any:
    """After pytest's short test summary: the GitHub annotations (under GitHub Actions or when
    asked), then, right before pytest's final line, each root cause once, most severe first."""
    result = yield
    if state_of(config).is_worker or state_of(config).session is None or config.option.collectonly \
            or not state_of(config).conformance_ran:
        return result
    from harness_refarch.report import annotations
    causes, pair_text = _root_causes(config)
    try:
        wanted = annotations.enabled(state_of(config).opt("--refarch-annotations"), os.environ)
    except RefarchError:
        wanted = False
    if wanted:  # first, so that the root-cause section stays right above pytest's final line
        for line in annotations.lines(causes, _base(config), pair_text):
            terminalreporter.write_line(line)
    _write_root_causes(terminalreporter, config, causes, pair_text)
    return result


def _write_root_causes(terminalreporter: Any, config: pytest.Config, causes: list[Any], pair_text: Any) -> None:
    from harness_refarch.report.rootcauses import LISTED, listing, per_check

    write = terminalreporter.write_line
    shown = [rc for rc in causes if not rc.waiver]
    waived = [rc for rc in causes if rc.waiver]
    if not causes:
        rs = state_of(config).session
        if rs is not None and rs.selected_pairs:  # some conformance test ran
            write("harness-refarch: root causes: none (no findings)")
        return
    gate = state_of(config).gate
    assert gate is not None  # root causes are only built with a gate
    terminalreporter.section("harness-refarch: root causes", sep="=", red=any(rc.failing for rc in shown))
    counts = ", ".join(f"{check} {n}" for check, n in per_check(shown).items()) or "none"
    failing = sum(rc.failing for rc in shown)
    write(f"{len(shown)} root cause(s) of {sum(rc.count for rc in shown)} finding(s), most severe first; "
          f"{failing} fail (--refarch-fail-on {gate.fail_on}), {len(shown) - failing} reported only. "
          f"Per check: {counts}")
    every = config.getoption("verbose", 0) > 0
    for line in listing(shown, pair_text, limit=None if every else LISTED,
                        rest="-v lists them all; --refarch-report and --refarch-sarif keep every one"):
        write(line)
    if waived:
        counts = ", ".join(f"{check} {n}" for check, n in per_check(waived).items())
        write(f"{len(waived)} waived root cause(s) not listed (per check: {counts}); see the report")
