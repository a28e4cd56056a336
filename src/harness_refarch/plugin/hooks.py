"""pytest plugin: options, the (profile, architecture) matrix, renders, fixtures and reporting.

Registered through the ``pytest11`` entry point. Test ids start with the pair id
(``large-prod-3-incluster``) so ``pytest -k large`` selects exactly the large-profile tests.
Per-workload test ids come from the render itself, so a test is always about something the
chart renders. Every option of ours starts with ``--refarch-`` (and has a ``REFARCH_*``
environment variable); the chart path, Kubernetes version and a user values file reuse
pytest-helm-charts' options (``--chart-path``/``ATS_CHART_PATH``, ``--cluster-version``,
``--app-config-file-path``).
"""

from __future__ import annotations

import gc
import itertools
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from harness_refarch.checks.registry import REGISTRY, Check
from harness_refarch.engine import checking, options, unread
from harness_refarch.engine.session import (
    NO_WORKLOADS,
    RENDER_FAILED,
    WORKLOAD_FILTERS,
    RefarchSession,
    applies,
)
from harness_refarch.engine.waivers import Waiver
from harness_refarch.helm.binary import RUNNING
from harness_refarch.helm.render import RenderFailed, RenderRequest
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import LINES_SHOWN, Finding, report
from harness_refarch.model.identity import key_identity
from harness_refarch.model.manifest import Manifest
from harness_refarch.model.redact import mask
from harness_refarch.plugin import shard, summary, xdist
from harness_refarch.plugin.state import ROOT_CAUSE, TEST_FINDINGS, WAIVED, RunState, pair_of, state_of


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-refarch", "Harness reference-architecture conformance")
    for option in options.for_command("pytest"):
        group.addoption(option.flag, **options.pytest_kwargs(option))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Undo a wrong rootdir caused by a path-valued option such as ``--chart-path /x/chart``.

    pytest picks the rootdir and config file before plugins register their options, so in
    ``--chart-path /x/chart`` the value looks like a test path and /x/chart becomes the rootdir:
    the project's pyproject.toml (testpaths, fixtures) would be ignored. Now that the options
    are known, the setup is determined again from the real positional arguments.
    """
    ns = early_config.known_args_namespace
    if getattr(ns, "rootdir", None) or getattr(ns, "inifilename", None):
        return
    try:
        import inspect

        from _pytest.config.findpaths import determine_setup

        kwargs: dict[str, Any] = {"inifile": None, "args": list(ns.file_or_dir), "rootdir_cmd_arg": None,
                                  "invocation_dir": early_config.invocation_params.dir}
        if "override_ini" in inspect.signature(determine_setup).parameters:
            kwargs["override_ini"] = ns.override_ini
        rootpath, inipath, inicfg = determine_setup(**kwargs)[:3]
        if rootpath == early_config.rootpath:
            return
        old_cut = str(early_config.inipath.parent if early_config.inipath else early_config.rootpath)
        setattr(early_config, "_rootpath", rootpath)  # noqa: B010 - pytest internals, no public setter
        setattr(early_config, "_inipath", inipath)  # noqa: B010
        setattr(early_config, "_inicfg" if hasattr(early_config, "_inicfg") else "inicfg", inicfg)
        getattr(early_config, "_inicache").clear()  # noqa: B009
        if ns.confcutdir == old_cut:
            ns.confcutdir = str(inipath.parent if inipath else rootpath)
    except (ImportError, AttributeError, TypeError, ValueError):  # pragma: no cover - pytest internals moved
        return


def pytest_configure(config: pytest.Config) -> None:
    state = state_of(config)
    if not config.pluginmanager.is_registered(summary):
        config.pluginmanager.register(summary, "harness_refarch.plugin.summary")
    if not config.pluginmanager.is_registered(shard):
        config.pluginmanager.register(shard, "harness_refarch.plugin.shard")
    config.pluginmanager.register(summary.ResultCollector(state), f"harness_refarch.results-{id(state)}")
    if config.pluginmanager.hasplugin("xdist") and not config.pluginmanager.hasplugin("harness_refarch.plugin.xdist"):
        config.pluginmanager.register(xdist, "harness_refarch.plugin.xdist")
    config.addinivalue_line(
        "markers", "refarch(**where): run a conformance test only on architectures/profiles "
        "with these attributes, e.g. refarch(ha=True), refarch(backup=True), refarch(minimum=True), "
        "refarch(previous=True); refarch(workloads='stateless'|'jvm') narrows per-workload tests")
    config.addinivalue_line(
        "markers", "refarch_once_per_architecture: run only on the representative pair of each "
        "architecture (the first selected), e.g. the determinism check")
    config.addinivalue_line(
        "markers", "refarch_needs(*jobs): the test needs helm jobs beyond the pair's render: "
        "'standby' (the DR standby render), 'repeat' (a second render of identical inputs), "
        "'lint' (helm lint), 'unread' (renders without the keys no template reads); they are "
        "started early and such tests run last")
    try:  # before the test modules are imported: tests/conformance/test_custom_checks.py binds them
        REGISTRY.load(state.opt("--refarch-checks"))
    except RefarchError as exc:
        raise pytest.UsageError(f"harness-refarch: {exc}") from None


def _where(node: Any) -> dict[str, Any]:
    where: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("refarch"))):
        where.update(mark.kwargs)
    return where


def _keyword_may_select(metafunc: pytest.Metafunc, pair: Pair) -> bool:
    """Could ``-k`` select any per-workload test of ``pair``? Decided before rendering it.

    The workload part of an id is unknown until the chart is rendered, so an identifier of the
    expression that matches neither the pair-level part of the id nor the test's static names
    is tried both ways; the pair is needed if any assignment selects it. Only the renders that
    the selected tests need run: a cold ``pytest -k large`` renders only the large pairs.
    """
    expression = metafunc.config.option.keyword
    if not expression:
        return True
    try:
        from _pytest.mark import KeywordMatcher
        from _pytest.mark.expression import Expression

        compiled = Expression.compile(expression)
        static = KeywordMatcher.from_item(metafunc.definition)
    except Exception:  # pragma: no cover - pytest internals moved: render everything
        return True
    prefix = f"{metafunc.definition.name}[{pair.id}-".lower()
    pair_ids = [p.id.lower() for p in _all_pairs(metafunc)]

    def known(name: str, **kwargs: Any) -> bool | None:
        if kwargs:
            return None
        low = name.lower()
        if static(name) or low in prefix:
            return True
        if any(low in pid for pid in pair_ids):
            return False  # about another pair (a profile or architecture name), not about a workload
        return None

    idents = re.findall(r"(?:\w|:|\+|-|\.|\[|\]|\\|/)+", expression)
    unknown = [i for i in dict.fromkeys(idents) if i not in ("and", "or", "not") and known(i) is None]
    if len(unknown) > 10:
        return True
    for values in itertools.product((False, True), repeat=len(unknown)):
        assignment = dict(zip(unknown, values, strict=True))

        def matcher(name: str, _values: dict[str, bool] = assignment, **kwargs: Any) -> bool:
            hit = known(name, **kwargs)
            return _values.get(name, False) if hit is None else hit

        if compiled.evaluate(matcher):  # type: ignore[arg-type]
            return True
    return False


def _speculate(config: pytest.Config, session: RefarchSession, needed: list[Pair]) -> None:
    """While collection waits for the renders it needs, queue what the tests will need next
    (DR standbys, second renders of each architecture's first pair, helm lint) behind them."""
    state = state_of(config)
    if state.speculated or not needed or config.option.collectonly:
        return
    state.speculated = True
    reps = shard.representatives(config, session, needed)  # in the run's order: the same in every worker
    later = [r for p in _own_first(config, needed) if p.architecture.standby_overlay is not None
             for r in [session.request(p, True)]]
    later += [r for p in _own_first(config, reps) for r in (session.request(p), session.request(p, repeat=1))]
    session.prefetch(later)
    if not (config.option.keyword or config.option.markexpr or hasattr(config, "workerinput")):
        session.prefetch_lint(needed)  # with -k/-m the lint tests may be deselected; see collection_finish


def _own_first(config: pytest.Config, pairs: Sequence[Pair]) -> list[Pair]:
    """``pairs`` in the order to render them: an xdist worker's own share first. Every worker
    collects every pair, so each needs every render; rendered in one order, the workers would
    queue behind each other's per-render locks, one helm at a time between them."""
    share = state_of(config).share
    return sorted(pairs, key=lambda p: share is not None and p.id not in share)


def _all_pairs(metafunc: pytest.Metafunc) -> list[Pair]:
    session = state_of(metafunc.config).session_or_none()
    return session.pairs if session is not None else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = metafunc.fixturenames
    if "refarch_pair" not in names:
        return
    session = state_of(metafunc.config).session_or_none()
    if session is None:
        return
    where = _where(metafunc.definition)
    kind = where.pop("workloads", "all")
    pairs = [p for p in session.pairs if applies(session, p, where)]
    if "refarch_workload" not in names:
        metafunc.parametrize("refarch_pair", pairs, ids=[p.id for p in pairs])
        return
    needed = [p for p in pairs if _keyword_may_select(metafunc, p)]
    needed = shard.generated(metafunc.config, session, needed, kind)  # --refarch-shard: other pairs unrendered
    session.prefetch(session.request(p) for p in _own_first(metafunc.config, needed))  # all at once, in parallel
    _speculate(metafunc.config, session, needed)
    combos = [(p, w) for p in needed for w in session.workload_ids(p, kind)]
    metafunc.parametrize(("refarch_pair", "refarch_workload"), combos,
                         ids=[f"{p.id}-{w}" for p, w in combos])


def _empty_matrix(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return "refarch_pair" in params and not isinstance(params["refarch_pair"], Pair)


def _select_pairs(rs: RefarchSession, items: list[pytest.Item]) -> None:
    """Record the pairs of the selected tests, in catalogue order (they pick the representatives)."""
    ids = {p.id for p in map(pair_of, items) if p is not None}
    rs.selected_pairs = [p for p in rs.pairs if p.id in ids]


@pytest.hookimpl(trylast=True)  # after -k/-m deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (never skip-as-pass) tests whose matrix is empty under --refarch-profile/-architecture."""
    empty = [item for item in items if _empty_matrix(item)]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if not _empty_matrix(item)]
    _keep_representatives(config, items)
    shard.deselect(config, items)  # --refarch-shard: other shards' tests, after the representatives are chosen
    items.sort(key=_readiness)
    shard.note_order(config, items, _readiness)


# Later helm jobs are queued behind the pairs' renders: tests needing them run last, so that
# the other tests run while helm works instead of waiting for it (a stable sort keeps the rest).
_JOB_ORDER = {"standby": 1, "repeat": 2, "unread": 2, "lint": 3}


def _needs(item: pytest.Item) -> set[str]:
    return {job for mark in item.iter_markers("refarch_needs") for job in mark.args}


def _readiness(item: pytest.Item) -> int:
    return max((_JOB_ORDER.get(job, 0) for job in _needs(item)), default=0)


def _keep_representatives(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The determinism test runs once per architecture, on its representative pair (after -k)."""
    rs = state_of(config).session
    if rs is None:
        return
    _select_pairs(rs, items)
    shard.widen(config, rs)  # --refarch-shard: representatives are those of the whole run
    reps = {rs.representative(p).id for p in rs.selected_pairs}
    extra = [item for item in items if item.get_closest_marker("refarch_once_per_architecture")
             and (pair := pair_of(item)) is not None and pair.id not in reps]
    if extra:
        config.hook.pytest_deselected(items=extra)
        items[:] = [item for item in items if item not in extra]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every render the selected tests need, concurrently, before the first test runs."""
    # What collection built (catalogue, the renders loaded so far) lives for the whole run: the
    # garbage collector need not walk it again and again while the tests allocate.
    gc.freeze()
    state = state_of(session.config)
    state.exit_on_error()
    rs = state.session
    if rs is None or session.config.option.collectonly or sys.exc_info()[0] is not None:
        return  # collection was interrupted (Ctrl-C): pytest calls this hook from a finally block
    _select_pairs(rs, session.items)
    # A serial run starts everything now. An xdist worker starts its share of the pairs (the
    # controller's split) now, and the others' renders, lint and probes with their first test
    # here, if ever; a worker told no share renders everything now (shared with the others
    # through the store) and lints and probes each pair with its first test.
    share = state.share if state.is_worker else None

    def mine(pair: Pair) -> bool:  # its renders start now
        return share is None or pair.id in share

    def probes_now(pair: Pair) -> bool:  # and its lint and probe chains
        return not state.is_worker or (share is not None and pair.id in share)

    requests = []
    for pair in rs.selected_pairs:
        if mine(pair):
            rep = rs.representative(pair)
            requests += [rs.request(rep), rs.request(rep, repeat=1)]
    later: dict[str, list[RenderRequest]] = {}
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "refarch_pair" in params:
            pair, marks = params["refarch_pair"], _where(item)
            needed = rs.requests_for(pair, standby=bool(marks.get("dr")), previous=bool(marks.get("previous")))
            if mine(pair):
                requests += needed
            else:
                later.setdefault(pair.id, []).extend(needed)
    state.render_later = {i: list(dict.fromkeys(r)) for i, r in later.items()}
    probed = {p.id: p for item in session.items if "unread" in _needs(item) and (p := pair_of(item)) is not None}
    linted = {p.id: p for item in session.items if "lint" in _needs(item) and (p := pair_of(item)) is not None}
    if state.is_worker:
        state.probe_later = {i for i, p in probed.items() if not probes_now(p)}
        state.lint_later = {i for i, p in linted.items() if not probes_now(p)}
    probed = {i: p for i, p in probed.items() if probes_now(p)}
    linted = {i: p for i, p in linted.items() if probes_now(p)}
    if linted:
        rs.prefetch_lint(p for p in rs.selected_pairs if p.id in linted)
    if requests:
        try:
            rs.prefetch(dict.fromkeys(requests))
        except RefarchError as exc:
            raise pytest.UsageError(f"harness-refarch: {exc}") from None
    # after the pairs' own renders: the chains of "without" renders, each stack on its own thread
    rs.decide_later(_stacks(probed.values()))


def _stacks(pairs: Iterable[Pair]) -> list[tuple[Pair, bool]]:
    """The values stacks of ``pairs`` whose unread keys are decided: each pair's, its DR standby's."""
    return [(pair, standby) for pair in pairs
            for standby in ((False, True) if pair.architecture.standby_overlay is not None else (False,))]


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: Any) -> None:
    """Ctrl-C: kill every helm in flight (with its children) and cancel the pending renders."""
    RUNNING.kill_all()


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # The parsed renders are a large heap that lives until exit: move it out of the garbage
    # collector's sight, so pytest's forced collections at shutdown (and the interpreter's)
    # do not walk it again. Never unfrozen: that alone costs the 0.1 s saved. Frozen objects
    # are still freed by reference counting; a process runs pytest once (harness-refarch check too).
    gc.freeze()
    state = state_of(config)
    if state.session is not None:
        state.session.close(wait=not RUNNING.interrupted)
    if state.run_dir is not None:
        shutil.rmtree(state.run_dir, ignore_errors=True)
    if state.restore_sigterm is not None:
        state.restore_sigterm()


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def refarch(pytestconfig: pytest.Config) -> RefarchSession:
    """The conformance session: catalog, helm, render cache, golden files."""
    state = state_of(pytestconfig)
    session = state.session_or_none()
    if session is None:
        pytest.fail(f"harness-refarch: {state.error}", pytrace=False)
    return session


def _run_check(refarch: RefarchSession, check: Callable[..., list[Finding]], pair: Pair,
               *args: Any) -> tuple[list[Finding], RefarchError | None]:
    """Run a check on the pair as its values layers make it (expected hosts from the merged
    values; failing values traced to their layer). Errors come back as values so the test fails
    outside any ``except`` block (no "During handling of the above exception" chains)."""
    try:
        return refarch.traced(check, pair, *args), None
    except RefarchError as exc:
        return [], exc
    except Exception as exc:  # a bug of ours: say so in one line, never dump locals holding renders
        return [], _crashed(pair, getattr(check, "__qualname__", repr(check)), exc)


def _crashed(pair: Pair, name: str, exc: Exception, module: str = "") -> RefarchError:
    whose = (f"a bug of {module}, a check module outside harness-refarch" if module else
             "a harness-refarch bug; please report it with the chart that triggers it")
    return RefarchError(f"{pair.id}: check {name} crashed ({whose}): {type(exc).__name__}: {mask(str(exc))[:300]}")


def _run_registered(refarch: RefarchSession, check: Check, node: pytest.Item, pair: Pair, manifest: Manifest,
                    *fetched: Any, workload: str | None = None) -> tuple[list[Finding], str, RefarchError | None]:
    """A registered check (see :mod:`harness_refarch.engine.checking`): its findings, the reason
    to skip when there are none, or the error that fails the test (as :func:`_run_check`)."""
    try:
        cause = checking.cause(refarch, check, pair)
        if cause:  # counted apart in the summary, like render failures
            node.user_properties.append((cause, pair.id))
        found = checking.findings(refarch, check, pair, manifest, *fetched, workload=workload)
        return found, checking.skip_reason(refarch, check, pair, manifest), None
    except RefarchError as exc:
        return [], "", exc
    except Exception as exc:
        return [], "", _crashed(pair, check.id, exc, "" if check.builtin else check.module)


def _fail(node: pytest.Item, exc: RefarchError) -> None:
    if isinstance(exc, RenderFailed):
        node.user_properties.append((ROOT_CAUSE, exc.label))
        pytest.fail(f"render {exc.label} failed; helm's error is shown once in the "
                    "'harness-refarch: render failures' section of the summary", pytrace=False)
    pytest.fail(str(exc), pytrace=False)


def _manifest(node: pytest.Item, rs: RefarchSession, pair: Pair, standby: bool = False) -> Manifest:
    error: RefarchError | None = None
    try:
        manifest = rs.manifest(pair, standby)
    except RefarchError as exc:
        error = exc
    if error is not None:
        _fail(node, error)
    if not manifest.workloads:
        which = f"{pair.id}{' standby' if standby else ''}"
        pytest.fail(f"render {which} contains no workload at all ({len(manifest.objects)} object(s)); "
                    "nothing to check", pytrace=False)
    return manifest


@pytest.fixture
def refarch_workload() -> str:
    """Overridden by parametrisation: the workload identity a test is about."""
    return ""


def select_workload(findings: list[Finding], identity: str, manifest: Manifest,
                    state: RunState | None = None) -> list[Finding]:
    """Findings about the workload(s) of ``manifest`` whose normalised identity is ``identity``.

    With the run's ``state``, each findings list is grouped by workload once (not once per
    per-workload test) and each render's identities are computed once."""
    grouped_cache = state.grouped if state is not None else {}
    grouped = grouped_cache.get(id(findings))
    if grouped is None or grouped[0] is not findings or grouped[1] is not manifest:
        index: dict[str, list[Finding]] = {}
        for f in findings:
            index.setdefault(manifest.workload_of(f.workload) or f.workload.split(" ", 1)[0], []).append(f)
        grouped = (findings, manifest, index)
        grouped_cache[id(findings)] = grouped  # the list is kept so its id stays its own
    keys = dict.fromkeys([*_by_identity(manifest, state).get(identity, ()), identity])
    return [f for key in keys for f in grouped[2].get(key, ())]


def _by_identity(manifest: Manifest, state: RunState | None = None) -> dict[str, list[str]]:
    """Workload keys of a render by normalised identity (once per render with the run's state)."""
    cache = state.identities if state is not None else {}
    cached = cache.get(id(manifest))
    if cached is None or cached[0] is not manifest:
        table: dict[str, list[str]] = {}
        for key in manifest.workloads:
            table.setdefault(key_identity(key), []).append(key)
        cached = cache[id(manifest)] = (manifest, table)
    return cached[1]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    state_of(item.config).running = item


@pytest.hookimpl(wrapper=True, trylast=True)  # innermost: the other wrappers see the xfailed report
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test whose findings are all waived passed its call without raising: report it xfailed
    (outcome skipped with ``wasxfail``, as pytest's skipping plugin reports ``pytest.xfail()``)."""
    report: pytest.TestReport = yield
    reason = item.stash.get(WAIVED, None)
    if reason is not None and call.when == "call" and report.passed:
        report.outcome = "skipped"
        report.wasxfail = reason
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    """xdist worker: the first test of a pair outside the worker's share starts that pair's
    renders, its helm lint and the decisions which of its keys do nothing (the pair is this
    worker's now; its share's started when collection finished)."""
    state = state_of(item.config)
    pair = pair_of(item)
    if pair is None or state.session is None:
        return
    renders = state.render_later.pop(pair.id, None)
    if renders:
        state.session.prefetch(renders)
    later = state.lint_later
    if later and pair.id in later:
        later.discard(pair.id)
        state.session.prefetch_lint([pair])
    probe = state.probe_later
    if probe and pair.id in probe:
        probe.discard(pair.id)
        state.session.decide_later(_stacks([pair]))


@pytest.fixture(scope="session")
def assert_conformant(pytestconfig: pytest.Config, refarch: RefarchSession) -> Callable[..., None]:
    """Run a check on the current pair (and workload, if parametrised) and fail on findings.

    Session-scoped (the test being run comes from ``pytest_runtest_call``): a function-scoped
    fixture costs pytest's fixture machinery once per test, about a tenth of a warm run.
    """
    state = state_of(pytestconfig)

    def run(check: Callable[..., list[Finding]] | Check, *extra: Any, standby: bool = False,
            previous: bool = False) -> None:
        """``check``: a registered check (what it needs follows from its registration), or a
        function; then ``standby=True`` passes the DR standby render after the primary and
        ``previous=True`` passes ``(profile name, render)`` of the pair one size down."""
        node = state.running
        assert node is not None, "assert_conformant is called from a running test"
        params = node.callspec.params  # type: ignore[attr-defined]
        pair: Pair = params["refarch_pair"]
        workload = params.get("refarch_workload")
        registered: Check | None = None
        if isinstance(check, Check):
            registered, name = check, check.id
            standby, previous = "standby" in check.needs, bool(check.where.get("previous"))
        else:
            name = node.originalname.removeprefix("test_")  # type: ignore[attr-defined]
        props = node.user_properties
        props += [("pair", pair.id), ("profile", pair.profile.name), ("architecture", pair.architecture.name),
                  ("check", name)]
        if workload:
            props.append(("workload", workload))
        manifest = _manifest(node, refarch, pair)
        if standby:
            extra = (_manifest(node, refarch, pair, standby=True), *extra)
        if previous:
            before = refarch.previous(pair)
            if before is None:
                pytest.fail(f"{pair.id} has no previous profile; mark the test refarch(previous=True)",
                            pytrace=False)
            extra = ((before.profile.name, _manifest(node, refarch, before)), *extra)
        if workload in (NO_WORKLOADS, RENDER_FAILED):  # pragma: no cover - _manifest failed first
            pytest.fail(f"{pair.id}: {workload}", pytrace=False)
        skip = ""
        if isinstance(check, Check):
            found, skip, error = _run_registered(refarch, check, node, pair, manifest, *extra, workload=workload)
        else:
            found, error = _run_check(refarch, check, pair, manifest, *extra)
        if error is not None:
            _fail(node, error)
        context = pair.id
        if workload is not None:
            kind = (registered.workloads or "all") if registered is not None else _where(node).get("workloads", "all")
            keep = WORKLOAD_FILTERS[kind]
            if not any(keep(manifest.workloads[key]) for key in _by_identity(manifest, state).get(workload, ())):
                pytest.fail(f"{pair.id}: the render has no {kind} workload {workload}", pytrace=False)
            found = select_workload(found, workload, manifest, state)
            context += f" {workload}"
        if found:  # symptoms of an architecture the chart cannot express: one line, the cause
            decided, others = unread.decided_by_keys(refarch.options.fixtures, name, found)
            cause = unread.inexpressible(refarch, pair, name, hidden=len(decided)) if decided else None
            if cause is not None:
                found = [cause, *others]
        waivers = state.waivers
        waived: list[tuple[Finding, Waiver]] = []
        if waivers is not None:
            found, waived = waivers.split(found, pair.id)
        gate = state.gate
        below: list[Finding] = []
        if gate is not None:  # below --refarch-fail-on: reported (xfail with the reason), not failing
            found, below = gate.split(found)
        notes = [gate.note(below)] if gate is not None and below else []
        node.stash[TEST_FINDINGS] = (
            [*found, *below, *(f for f, _ in waived)], "; ".join([*notes, *sorted({w.reason for _, w in waived})]))
        limit = None if node.config.getoption("verbose", 0) > 0 else LINES_SHOWN
        message = report(found, context, limit)
        if message:
            if waived:
                message += f"\n  ({len(waived)} more finding(s) waived)"
            if notes:
                message += f"\n  ({notes[0]})"
            pytest.fail(message, pytrace=False)
        if waived or below:
            reasons = sorted({f"{w.reason} [{w.describe()}]" for _, w in waived})
            parts = ([f"{len(waived)} finding(s) waived: " + "; ".join(reasons)] if waived else [])
            if below:
                parts.append(notes[0] + "\n" + report(below, context, limit))
            if node.config.option.runxfail:  # --runxfail: a waived test fails, as pytest.xfail() would
                pytest.fail("; ".join(parts), pytrace=False)
            # Reported as xfailed by pytest_runtest_makereport, without raising: pytest turns an
            # exception into a traceback repr (filtering every frame by path) and sends it to the
            # xdist controller, only for it to be dropped: a tenth of a warm run gating the
            # released chart, where 992 tests are waived.
            node.stash[WAIVED] = "; ".join(parts)
            return
        if skip:
            pytest.skip(skip)
    return run
