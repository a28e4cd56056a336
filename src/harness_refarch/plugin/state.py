"""The run state of the pytest plugin: one object per pytest run, kept under one stash key.

Every hook module reaches it with :func:`state_of` (pytest-xdist keeps its ``DSession`` the same
way): the session built from the options, the waivers and gate, what the tests found, what was
written, what workers reported. Nothing of the run lives in module globals, so two runs in one
process (pytester's in-process runs) never see each other's state.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness_refarch.checks.registry import REGISTRY
from harness_refarch.checks.severities import Gate
from harness_refarch.engine import config as configfile
from harness_refarch.engine import options as table
from harness_refarch.engine.session import DEFAULT_KUBE_VERSION, Options, RefarchSession, default_render_workers
from harness_refarch.engine.shard import Shard, for_session
from harness_refarch.engine.waivers import Waivers, load_waivers
from harness_refarch.helm.binary import interrupt_on_terminate
from harness_refarch.helm.render import RenderRequest
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import check_writable
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest
from harness_refarch.report.capacity import NodeShape
from harness_refarch.report.data import PairResult, TestResult

ROOT_CAUSE = "refarch_root_cause"  # user property of a test failed by its render, not its check
RENDER_CATEGORY = "failed (render)"
RUN_STORE = "refarch_run_store"  # workerinput key: the run-scoped store directory (no-cache runs)
SHARE = "refarch_share"  # workerinput key: the pair ids a worker renders, lints and probes from the start
TEST_FINDINGS = pytest.StashKey[tuple[list[Finding], str]]()  # on each test item: its findings, waiver reasons
WAIVED = pytest.StashKey[str]()  # on a test whose every finding is waived (or below the gate): the xfail reason


@dataclass(eq=False)
class RunState:
    """Everything one pytest run of the suite knows. Built empty in ``pytest_configure``; the
    session is built on first use (:meth:`session_or_none`) from the options."""

    config: pytest.Config
    session: RefarchSession | None = None
    built: bool = False
    error: str | None = None  # bad input: one paragraph, reported once collection ends
    waivers: Waivers | None = None
    gate: Gate | None = None
    shapes: list[NodeShape] = field(default_factory=list)
    reserve: float = 0.10
    results: list[TestResult] = field(default_factory=list)
    pair_results: list[PairResult] = field(default_factory=list)
    found: dict[tuple[str, Finding], None] = field(default_factory=dict)  # every finding, for baselines
    written: list[tuple[str, str]] = field(default_factory=list)  # (what, where) of the outputs written
    problems: list[str] = field(default_factory=list)  # waivers expired or stale, outputs not written
    causes: list[Any] | None = None  # the run's root causes, built once at the end
    speculated: bool = False
    lint_later: set[str] | None = None  # xdist worker: pairs whose lint starts with their first test
    probe_later: set[str] | None = None  # xdist worker: pairs whose probe renders start with their first test
    render_later: dict[str, list[RenderRequest]] = field(default_factory=dict)  # xdist worker: pair id -> its renders
    worker_renders: dict[str, dict[str, Any]] | None = None  # xdist controller: the workers' renders
    xdist_shares: dict[str, list[str]] | None = None  # xdist controller: worker id -> the pair ids it starts with
    head_started: bool = False  # xdist controller: it rendered each share's first pair while the workers started
    worker_volatile: list[str] = field(default_factory=list)
    workers_conformance: bool = False  # xdist controller: some worker collected conformance tests
    running: pytest.Item | None = None  # the test being run (a session-scoped fixture reads it)
    run_dir: Path | None = None  # xdist without the render cache: this run's private store
    shard: Shard | None = None  # --refarch-shard K/N
    shard_run: Any = None  # plugin.shard.ShardRun: this shard's pairs, the tests' order (made on first use)
    # Named caches of the run, keyed by id() with the object kept (an id is never reused meanwhile):
    grouped: dict[int, tuple[list[Finding], Manifest, dict[str, list[Finding]]]] = field(default_factory=dict)
    identities: dict[int, tuple[Manifest, dict[str, list[str]]]] = field(default_factory=dict)
    repo_read: bool = False  # the repository's configuration file was looked for
    restore_sigterm: Callable[[], None] | None = None  # puts back SIGTERM's handler of before the run
    repo: configfile.RepoConfig | None = None  # that file, validated
    repo_error: str | None = None  # why it is bad input (reported like any other)

    # -- options --------------------------------------------------------------------------------
    def opt(self, flag: str) -> Any:
        """An option's value: command line, then its REFARCH_* variable, then the repository's
        configuration file, then its default."""
        return table.resolve(flag, self.config.getoption(table.BY_FLAG[flag].dest), os.environ, self.configured)

    def repo_config(self) -> configfile.RepoConfig | None:
        """The configuration file that applies where pytest was started (found once); a bad file
        is kept in ``repo_error`` and counts as no file here (building the session reports it)."""
        if not self.repo_read:
            self.repo_read = True
            try:
                self.repo = configfile.discover(self.config.invocation_params.dir)
            except RefarchError as exc:
                self.repo_error = str(exc)
        return self.repo

    def given_by(self, flag: str) -> str:
        """Where an option's value came from, for messages: the flag, its variable or the file."""
        option = table.BY_FLAG[flag]
        if self.config.getoption(option.dest) not in (None, [], False) or not (
                os.environ.get(option.env) or self.configured(option.name) is not None):
            return flag
        if os.environ.get(option.env):
            return option.env
        repo = self.repo_config()
        return f"'{option.name}' in {repo.path}" if repo is not None else flag

    def configured(self, name: str) -> Any:
        """What the configuration file says for ``name`` (the options table's third source)."""
        return configfile.lookup(self.repo_config(), name)

    def cache_disabled(self) -> bool:
        """--refarch-no-cache (or REFARCH_NO_CACHE) was given. A REFARCH_NO_CACHE that is not a
        boolean counts as not given here; building the session reports it as bad input."""
        try:
            return bool(self.opt("--refarch-no-cache"))
        except RefarchError:
            return False

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    @property
    def share(self) -> set[str] | None:
        """xdist worker: the pair ids the controller gave it to start with (None: not told)."""
        given = getattr(self.config, "workerinput", {}).get(SHARE)
        return set(given) if isinstance(given, list) else None

    def asked_for(self) -> bool:
        """Whether the user asked for a conformance run: a harness-refarch option on the command
        line, an option's REFARCH_* variable or a configuration file. Without any, a controller cannot tell
        a conformance run from another project's ``pytest -n`` before the workers collect."""
        args = [str(a) for a in self.config.invocation_params.args]
        return (any(a.startswith(("--refarch", "--chart-path")) for a in args)
                or any(o.env and os.environ.get(o.env) for o in table.OPTIONS)
                or self.repo_config() is not None or self.repo_error is not None)

    @property
    def conformance_ran(self) -> bool:
        """Whether this run holds conformance tests: always where the tests are collected; for an
        xdist controller (which collects nothing), when a worker had them. The controller builds
        the session early (its scheduler needs the pair ids), so that alone says nothing."""
        return not self.is_xdist_controller or self.workers_conformance

    @property
    def is_xdist_controller(self) -> bool:
        return (bool(getattr(self.config.option, "numprocesses", None)) and not self.is_worker
                and self.config.pluginmanager.hasplugin("dsession"))

    def run_store(self) -> Path | None:
        """The run-scoped store of an xdist run without the render cache (made by the controller,
        read by the controller's summary and report as well as by the workers), else None."""
        value = getattr(self.config, "workerinput", {}).get(RUN_STORE)
        if value:
            return Path(value)
        with_workers = bool(getattr(self.config.option, "numprocesses", None)) and not self.is_worker
        if not self.config.pluginmanager.hasplugin("harness_refarch.plugin.xdist") or not with_workers \
                or not self.cache_disabled():
            return None
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix="harness-refarch-run-"))  # mode 0700
        return self.run_dir

    # -- the session ----------------------------------------------------------------------------
    def session_or_none(self) -> RefarchSession | None:
        """The run's RefarchSession, or None after bad input (reported once collection ends).

        Exceptions raised while a module is collected become per-module collection errors with
        tracebacks, so the error is kept here and the run ends in pytest_collection_finish with
        one readable paragraph and exit code 4.
        """
        if self.built:
            return self.session
        self.built = True
        session = None
        try:
            if self.repo_config() is None and self.repo_error is not None:
                raise RefarchError(self.repo_error)
            session = RefarchSession(self._options())
            session.helm  # noqa: B018 - find and check helm up front: one message, not one per render
            for flag in ("--refarch-report", "--refarch-baseline-update", "--refarch-sarif"):
                target = self.opt(flag)
                if target:
                    check_writable(Path(target).expanduser().resolve(), flag)
            self.waivers = self._load_waivers(session)
            self.gate = self._gate(session)
            self.shapes = [NodeShape.parse(v) for v in self.opt("--refarch-node-shape")]
            self.reserve = float(self.opt("--refarch-node-reserve"))
            self.shard = for_session(self.opt("--refarch-shard"), session)
        except RefarchError as exc:
            self.error = str(exc)
            if session is not None:
                session.close()  # an unpacked .tgz chart's work directory goes with it
            return None
        self.session = session
        self.restore_sigterm = interrupt_on_terminate()  # SIGTERM cleans up as Ctrl-C does
        return session

    def _options(self) -> Options:
        config = self.config
        root = config.rootpath
        chart = (config.getoption("chart_path", None) or os.environ.get("ATS_CHART_PATH")
                 or self.configured("chart") or str(root / "charts" / "harness-prod"))
        kube = (config.getoption("cluster_version", None) or os.environ.get("ATS_CLUSTER_VERSION")
                or self.configured("cluster-version") or DEFAULT_KUBE_VERSION)
        golden = self.opt("--refarch-golden")
        values = [Path(v) for v in self.opt("--refarch-values")]
        app_values = config.getoption("app_config_file_path", None) or os.environ.get("ATS_APP_CONFIG_FILE_PATH")
        if app_values:
            values.insert(0, Path(app_values))
        fixtures = self.opt("--refarch-fixtures") or str(root / "fixtures")
        workers = int(self.opt("--refarch-render-workers"))
        if not workers and self.is_worker:  # pytest -n: the workers share the cores
            workers = default_render_workers(int(getattr(config, "workerinput", {}).get("workercount", 1)))
        timeout = float(self.opt("--refarch-render-timeout"))
        chart_path = Path(chart).expanduser()
        shared = self.run_store()
        return Options(
            chart=chart_path.resolve() if chart_path.exists() else Path(chart), fixtures=Path(fixtures).resolve(),
            chart_version=(config.getoption("chart_version", None) or os.environ.get("ATS_CHART_VERSION")
                           or self.configured("chart-version")),
            helm=self.opt("--refarch-helm"),
            profiles=self.opt("--refarch-profile"),
            architectures=self.opt("--refarch-architecture"),
            values=[v.expanduser().resolve() for v in values], sets=self.opt("--refarch-set"),
            manifests=[Path(m).expanduser().resolve() for m in self.opt("--refarch-manifests")],
            release=self.opt("--refarch-release-name"), namespace=self.opt("--refarch-namespace"),
            kube_version=str(kube), update_golden=bool(self.opt("--refarch-update")),
            prune_golden=bool(self.opt("--refarch-prune")), workers=workers, timeout=timeout,
            cache=shared is not None or not self.opt("--refarch-no-cache"), cache_dir=shared,
            golden=Path(golden).expanduser().resolve() if golden else None,
        )

    def _load_waivers(self, session: RefarchSession) -> Waivers | None:
        given = self.opt("--refarch-waivers")
        path = Path(given).expanduser().resolve() if given else session.options.fixtures / "waivers.yaml"
        if not path.is_file():
            if given:
                raise RefarchError(f"The waivers file {path} given with {self.given_by('--refarch-waivers')} does not "
                                   "exist. Check the path, or start one with --refarch-baseline-update FILE.")
            return None
        from harness_refarch.checks import severities

        return load_waivers(path, chart=session.chart.name if session.chart is not None else None,
                            known=REGISTRY.finding_ids() | set(severities.load(session.options.fixtures).checks()))

    def _gate(self, session: RefarchSession) -> Gate:
        from harness_refarch.checks import severities
        from harness_refarch.report import annotations

        annotations.enabled(self.opt("--refarch-annotations"), os.environ)  # bad input: one paragraph
        shipped = severities.load(session.options.fixtures).with_defaults(REGISTRY.severities())
        levels = configfile.with_severities(shipped, self.repo_config(), known=REGISTRY.finding_ids())
        return Gate(levels, severities.threshold(self.opt("--refarch-fail-on")))

    def exit_on_error(self) -> None:
        if self.error is not None:
            raise pytest.UsageError(f"harness-refarch: {self.error}")  # printed as "ERROR: <paragraph>"


_STATE = pytest.StashKey[RunState]()


def state_of(config: pytest.Config) -> RunState:
    """The run state of ``config`` (made on first use)."""
    state = config.stash.get(_STATE, None)
    if state is None:
        state = config.stash[_STATE] = RunState(config)
    return state


def pair_of(item: pytest.Item) -> Pair | None:
    """The (profile, architecture) pair a conformance test is about, if it is one."""
    pair = getattr(getattr(item, "callspec", None), "params", {}).get("refarch_pair")
    return pair if isinstance(pair, Pair) else None
