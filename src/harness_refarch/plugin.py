"""pytest plugin: options, the (profile, architecture) matrix, render prefetch and fixtures.

Registered through the ``pytest11`` entry point. Test ids start with the pair id
(``large-prod-3-incluster``) so ``pytest -k large`` selects exactly the large-profile tests.
The chart path, Kubernetes version and a user values file reuse pytest-helm-charts' options
(``--chart-path``/``ATS_CHART_PATH``, ``--cluster-version``, ``--app-config-file-path``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness_refarch.catalog import Pair
from harness_refarch.errors import RefarchError
from harness_refarch.findings import Finding, report
from harness_refarch.session import DEFAULT_KUBE_VERSION, Options, RefarchSession

UNRECORDED = "(unrecorded)"
_KEY = pytest.StashKey[RefarchSession | None]()
_ERROR = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-refarch", "Harness reference-architecture conformance")
    group.addoption("--helm", dest="refarch_helm", metavar="PATH",
                    help="helm binary (default: $HELM_BIN, then helm on PATH, then the pinned "
                         "helm installed by harness-refarch-install-helm)")
    group.addoption("--profile", dest="refarch_profiles", action="append", default=[],
                    metavar="NAME", help="only this size profile (repeatable): demo, small, medium, large")
    group.addoption("--architecture", dest="refarch_architectures", action="append", default=[],
                    metavar="NAME", help="only this deployment architecture (repeatable)")
    group.addoption("--values", dest="refarch_values", action="append", default=[], metavar="FILE",
                    help="your own values file, layered first like 'your-override.yaml' (repeatable)")
    group.addoption("--set", dest="refarch_sets", action="append", default=[], metavar="K=V",
                    help="extra helm --set, applied after every values file (repeatable)")
    group.addoption("--release-name", dest="refarch_release", default="harness",
                    help="helm release name (default %(default)s)")
    group.addoption("--namespace", dest="refarch_namespace", default="harness",
                    help="release namespace (default %(default)s)")
    group.addoption("--refarch-update", dest="refarch_update", action="store_true",
                    help="record golden expectations from the current chart instead of comparing")
    group.addoption("--refarch-fixtures", dest="refarch_fixtures", metavar="DIR",
                    help="reference-architecture data directory (default: <rootdir>/fixtures)")
    group.addoption("--render-workers", dest="refarch_workers", type=int, default=0,
                    help="concurrent helm renders (default: CPU count, at most 8)")


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
    config.addinivalue_line(
        "markers", "refarch(**where): run a conformance test only on architectures/profiles "
        "with these attributes, e.g. refarch(ha=True), refarch(backup=True), refarch(minimum=True), "
        "refarch(previous=True); refarch(workloads='stateless'|'jvm') narrows per-workload tests")
    config.stash[_KEY] = None


def _options(config: pytest.Config) -> Options:
    root = config.rootpath
    chart = (config.getoption("chart_path", None) or os.environ.get("ATS_CHART_PATH")
             or str(root / "charts" / "harness-prod"))
    kube = (config.getoption("cluster_version", None) or os.environ.get("ATS_CLUSTER_VERSION")
            or DEFAULT_KUBE_VERSION)
    values = [Path(v) for v in config.getoption("refarch_values")]
    app_values = config.getoption("app_config_file_path", None) or os.environ.get("ATS_APP_CONFIG_FILE_PATH")
    if app_values:
        values.insert(0, Path(app_values))
    fixtures = config.getoption("refarch_fixtures") or str(root / "fixtures")
    return Options(
        chart=Path(chart).expanduser().resolve(), fixtures=Path(fixtures).resolve(),
        helm=config.getoption("refarch_helm"),
        profiles=config.getoption("refarch_profiles"),
        architectures=config.getoption("refarch_architectures"),
        values=[v.expanduser().resolve() for v in values], sets=config.getoption("refarch_sets"),
        release=config.getoption("refarch_release"), namespace=config.getoption("refarch_namespace"),
        kube_version=kube.lstrip("v"), update_golden=config.getoption("refarch_update"),
        workers=config.getoption("refarch_workers"),
    )


def get_session(config: pytest.Config) -> RefarchSession | None:
    """The run's RefarchSession, or None after bad input (reported once collection ends).

    Exceptions raised while a module is collected become per-module collection errors with
    tracebacks, so the error is stashed here and the run ends in pytest_collection_finish
    with one readable paragraph and exit code 4.
    """
    session = config.stash.get(_KEY, None)
    if session is None and _ERROR not in config.stash:
        try:
            session = RefarchSession(_options(config))
        except RefarchError as exc:
            config.stash[_ERROR] = str(exc)
            return None
        config.stash[_KEY] = session
    return session


def _exit_on_error(config: pytest.Config) -> None:
    if _ERROR in config.stash:
        pytest.exit(f"harness-refarch: {config.stash[_ERROR]}", returncode=pytest.ExitCode.USAGE_ERROR)


def _applies(session: RefarchSession, pair: Pair, where: dict[str, Any]) -> bool:
    for key, want in where.items():
        if key == "previous":
            have: Any = session.previous(pair) is not None
        elif key == "minimum":
            have = pair.profile.minimum_cpu is not None or pair.profile.minimum_memory is not None
        elif key == "external":
            have = pair.architecture.external
        elif key == "in_cluster":
            have = not pair.architecture.external
        else:
            have = getattr(pair.architecture, key)
        if bool(have) != bool(want):
            return False
    return True


def _where(node: Any) -> dict[str, Any]:
    where: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("refarch"))):
        where.update(mark.kwargs)
    return where


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = metafunc.fixturenames
    if "refarch_pair" not in names:
        return
    session = get_session(metafunc.config)
    if session is None:
        return
    where = _where(metafunc.definition)
    kind = where.pop("workloads", "all")
    pairs = [p for p in session.pairs if _applies(session, p, where)]
    if "refarch_workload" in names:
        combos = [(p, w) for p in pairs for w in [*session.recorded_workloads(p, kind), UNRECORDED]]
        metafunc.parametrize(("refarch_pair", "refarch_workload"), combos,
                             ids=[f"{p.id}-{w}" for p, w in combos])
    else:
        metafunc.parametrize("refarch_pair", pairs, ids=[p.id for p in pairs])


def _empty_matrix(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return "refarch_pair" in params and not isinstance(params["refarch_pair"], Pair)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (never skip-as-pass) tests whose matrix is empty under --profile/--architecture."""
    empty = [item for item in items if _empty_matrix(item)]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if not _empty_matrix(item)]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every render the selected tests need, concurrently, before the first test runs."""
    _exit_on_error(session.config)
    rs = session.config.stash.get(_KEY, None)
    if rs is None or session.config.option.collectonly:
        return
    requests = []
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "refarch_pair" in params:
            pair = params["refarch_pair"]
            requests += rs.requests_for(pair)
            previous = rs.previous(pair)
            if "previous_rendered" in getattr(item, "fixturenames", ()) and previous is not None:
                requests.append(rs.request(previous))
    if requests:
        try:
            rs.prefetch(dict.fromkeys(requests))
        except RefarchError as exc:
            pytest.exit(f"harness-refarch: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """What was tested: chart, Kubernetes version, helm, user layers, renders, golden files."""
    rs = config.stash.get(_KEY, None)
    if rs is None:
        return
    o = rs.options
    write = terminalreporter.write_line
    helm = f"{rs.helm.binary} ({rs.helm.version})" if rs._cache is not None else "not run"
    write(f"harness-refarch: chart {o.chart}, kube {o.kube_version}, helm {helm}")
    write(f"harness-refarch: user values {', '.join(str(v) for v in o.values) or 'none'}; "
          f"{len(rs.pairs)} (profile, architecture) pair(s)")
    if rs._cache is not None:
        write(f"harness-refarch: {rs.cache.renders} distinct helm render(s)")
    for path in rs.golden_written:
        write(f"harness-refarch: recorded golden file {path}")


def pytest_unconfigure(config: pytest.Config) -> None:
    rs = config.stash.get(_KEY, None)
    if rs is not None:
        rs.close()


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def refarch(pytestconfig: pytest.Config) -> RefarchSession:
    """The conformance session: catalog, helm, render cache, golden files."""
    session = get_session(pytestconfig)
    if session is None:
        pytest.fail(f"harness-refarch: {pytestconfig.stash[_ERROR]}", pytrace=False)
    return session


def _fail_on_error(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except RefarchError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def rendered(refarch: RefarchSession, refarch_pair: Pair) -> Any:
    """The parsed render of the current pair (primary cluster for DR)."""
    return _fail_on_error(lambda: refarch.manifest(refarch_pair))


@pytest.fixture
def standby(refarch: RefarchSession, refarch_pair: Pair) -> Any:
    """The parsed render of the DR standby cluster of the current pair."""
    return _fail_on_error(lambda: refarch.manifest(refarch_pair, standby=True))


@pytest.fixture
def previous_rendered(refarch: RefarchSession, refarch_pair: Pair) -> Any:
    """(profile name, parsed render) of the pair one size down, for capacity comparisons."""
    previous = refarch.previous(refarch_pair)
    if previous is None:
        pytest.fail(f"{refarch_pair.id} has no previous profile; mark the test refarch(previous=True)",
                    pytrace=False)
    return previous.profile.name, _fail_on_error(lambda: refarch.manifest(previous))


@pytest.fixture
def refarch_workload() -> str:
    """Overridden by parametrisation: the workload key a test is about."""
    return UNRECORDED


def select_workload(findings: list[Finding], workload: str, recorded: list[str]) -> list[Finding]:
    """Findings about one workload, or, for UNRECORDED, about none of the recorded ones."""
    def owner(f: Finding) -> str | None:
        return next((k for k in recorded if f.workload == k or f.workload.startswith(k + " ")), None)
    if workload == UNRECORDED:
        return [f for f in findings if owner(f) is None]
    return [f for f in findings if owner(f) == workload]


@pytest.fixture
def assert_conformant(request: pytest.FixtureRequest, refarch: RefarchSession) -> Iterator[Callable[..., None]]:
    """Run a check on the current pair (and workload, if parametrised) and fail on findings.

    Per-workload tests own the findings about their workload; the ``(unrecorded)`` test of a
    pair owns the findings about every workload its golden file does not list for that test.
    """
    def run(check: Callable[..., list[Finding]], *extra: Any) -> None:
        params = request.node.callspec.params
        pair: Pair = params["refarch_pair"]
        manifest = _fail_on_error(lambda: refarch.manifest(pair))
        found = _fail_on_error(lambda: refarch.findings(check, pair, manifest, *extra))
        context = pair.id
        if "refarch_workload" in params:
            kind = _where(request.node).get("workloads", "all")
            found = select_workload(found, params["refarch_workload"], refarch.recorded_workloads(pair, kind))
            context += f" {params['refarch_workload']}"
        message = report(found, context)
        if message:
            pytest.fail(message, pytrace=False)
    yield run
