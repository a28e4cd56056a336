"""One conformance run: options resolved to paths, the matrix, renders and memoised findings.

Kept free of pytest so that a CLI (``harness-refarch diff``, reports) can drive the same
render -> manifest -> checks pipeline.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from harness_refarch.chart.source import ResolvedChart, check_kube_version, resolve_chart
from harness_refarch.chart.tree import ChartNode, chart_values, load_chart
from harness_refarch.chart.values import Layer, Merged, coalesce, load_layer, sets_layer
from harness_refarch.checks import backup, golden, layering
from harness_refarch.checks.values_keys import Declared, declared_paths
from harness_refarch.engine import chart_memo, unread
from harness_refarch.engine.unread import Decision
from harness_refarch.helm.binary import DEFAULT_TIMEOUT, Helm, bounded, find_helm
from harness_refarch.helm.render import RenderCache, RenderFailed, RenderRequest
from harness_refarch.helm.store import (
    RenderStore,
    check_cache_dir,
    default_dir,
    digest_of,
    get_or_compute,
    recall_version,
    remember_version,
)
from harness_refarch.model.catalog import PROFILE_ORDER, Catalog, Pair, Profile, load_catalog
from harness_refarch.model.errors import HelmFailed, RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.identity import Volatility, key_identity, learn_volatile, stable_text
from harness_refarch.model.manifest import Manifest, Workload
from harness_refarch.model.redact import mask

DEFAULT_KUBE_VERSION = ""  # empty: the lowest minor the chart's kubeVersion admits, at least 1.27
LOWEST_KUBE_MINOR = (1, 27)
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NO_WORKLOADS = "(no workloads)"

RENDER_FAILED = "(render failed)"


@dataclass
class Options:
    """What the user asked for, before any validation."""

    chart: Path  # what the user passed: a chart directory, a .tgz, or a repo/chart reference
    fixtures: Path
    chart_version: str | None = None
    helm: str | None = None
    profiles: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    values: list[Path] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)  # the operator's backup objects (--refarch-manifests)
    release: str = "harness"
    namespace: str = "harness"
    kube_version: str = DEFAULT_KUBE_VERSION
    update_golden: bool = False
    cache: bool = True  # the on-disk render store (--refarch-no-cache turns it off)
    cache_dir: Path | None = None
    prune_golden: bool = False
    workers: int = 0
    timeout: float = DEFAULT_TIMEOUT
    # profile files no rule of profiles.yaml adopts, run like a catalogue profile (name -> profile)
    profiles_like: dict[str, str] = field(default_factory=dict)
    golden: Path | None = None  # the golden folder (--refarch-golden, or the config); None: <fixtures>/golden


def default_render_workers(processes: int = 1) -> int:
    """Concurrent helm calls when ``--refarch-render-workers`` is not given: one per core (at most
    8), shared out among ``processes`` runs of the suite on one machine (``pytest -n``'s workers:
    each worker's helm calls and Python then fill its share instead of every worker oversubscribing
    every core)."""
    return max(1, min(8, os.cpu_count() or 2) // max(1, processes))


def check_name(option: str, value: str, max_len: int) -> None:
    """Release names and namespaces are DNS-1123 labels; anything else is a usage error.

    This is also what keeps a value such as ``--post-renderer=./x`` from ever reaching helm.
    """
    if not _DNS1123.match(value) or len(value) > max_len:
        raise RefarchError(
            f"{option} {value!r} is not a valid name: use at most {max_len} lower-case letters, "
            "digits and '-', starting and ending with a letter or digit (a DNS-1123 label), "
            "for example 'harness'.")


def default_kube_version(constraint: str | None) -> str:
    """The lowest Kubernetes minor a chart's ``kubeVersion`` admits (``>=1.27.0-0`` -> 1.27.0,
    ``>1.27`` -> 1.28.0, ``^1.28`` -> 1.28.0), never below 1.27: conformance is judged against
    the oldest cluster the chart claims to support."""
    best = LOWEST_KUBE_MINOR
    for op, major, minor in re.findall(r"(>=|>|\^|~|=)?\s*v?(\d+)\.(\d+)", constraint or ""):
        if op in ("<", "<="):
            continue
        bound = (int(major), int(minor) + (1 if op == ">" else 0))
        best = max(best, bound)
        break  # the first bound is the lower one in "A - B" and ">=A <B" forms
    return f"{best[0]}.{best[1]}.0"


_T = TypeVar("_T")


class RefarchSession:
    def __init__(self, options: Options) -> None:
        self.options = options
        self._findings: dict[tuple[Any, ...], list[Finding]] = {}
        self._traced: dict[tuple[int, str], tuple[list[Finding], list[Finding]]] = {}  # found is kept: ids stay unique
        self._cache: RenderCache | None = None
        self.golden_written: list[tuple[Path, str]] = []
        self._golden_done: set[Path] = set()
        self._golden_snaps: dict[str, dict[str, Any]] = {}
        self._golden_docs: dict[Path, dict[str, Any] | None] = {}  # parsed once per run, not per workload test
        self._workdir: Path | None = None
        self._remove_workdir: Callable[[], object] | None = None  # a weakref.finalize
        self._volatility: dict[str, Volatility] = {}
        self._layers: dict[Path, Layer | RefarchError] = {}  # a file that cannot be read is read once
        self._merged: dict[tuple[str, bool], Merged] = {}
        self._previous: dict[str, Pair | None] = {}
        self._effective: dict[str, Pair] = {}
        self._stored: dict[tuple[str, str, bool, str], list[Finding]] = {}
        self._unread: dict[tuple[str, bool], Decision] = {}
        self._deciding: dict[tuple[str, bool], Future[Decision]] = {}
        self._deciders: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.selected_pairs: list[Pair] = []  # pairs of the selected tests, set once collection ends
        self.scope_pairs: list[Pair] = []  # under --refarch-shard: the pairs every shard's selected tests cover
        self.operator_manifests: tuple[Manifest, ...] = ()  # --refarch-manifests, parsed up front
        self.chart: ResolvedChart | None = None
        try:
            self.validate()
        except BaseException:
            self.close()  # no work directory left behind after bad input
            raise

    # -- validation: one readable paragraph per problem ------------------------------------
    def validate(self) -> None:
        o = self.options
        check_name("--refarch-release-name", o.release, 53)
        check_name("--refarch-namespace", o.namespace, 63)
        if o.kube_version:
            o.kube_version = check_kube_version(o.kube_version)
        if o.timeout <= 0:
            raise RefarchError(f"--refarch-render-timeout {o.timeout:g} must be a positive number of seconds.")
        if o.update_golden:
            golden.check_recordable(o.golden or o.fixtures / "golden")
        self.resolve_chart()
        if not o.kube_version:
            o.kube_version = default_kube_version(self.chart.kube_version if self.chart else None)
        for path in o.values:
            if not path.is_file():
                raise RefarchError(f"The values file {path} given with --refarch-values does not exist. "
                                   "Check the path (relative paths start at the current directory).")
            self.layer(path)  # parsed once, here: a bad file is one paragraph before any render
        for path in sorted({p for pair in self.pairs for p in self.architecture_layers(pair)}):
            self.layer(path)  # the architecture overlays too, whatever data directory they come from
        if o.manifests:  # parsed once, here: a bad file is one paragraph before any render
            self.operator_manifests = backup.load_manifests(o.manifests, o.namespace, self.backup_policy)
        if o.cache:
            check_cache_dir(o.cache_dir or default_dir())  # one paragraph now, not a silent cache-less run
        for assignment in o.sets:
            if "=" not in assignment or assignment.startswith("="):
                raise RefarchError(f"--refarch-set {assignment.split('=', 1)[0]!r}... is not of the form "
                                   "path.to.key=value.")
        for name, known, given in (("--refarch-profile", self.catalog.profiles, o.profiles),
                                   ("--refarch-architecture", self.catalog.architectures, o.architectures)):
            unknown = [g for g in given if g not in known]
            if unknown:
                hint = ""
                if name == "--refarch-profile" and any(self.profile_file(u).is_file() for u in unknown):
                    hint = (f" The chart has override-{unknown[0]}.yaml, but no rule of 'without_figures' in "
                            f"{self.catalog.root / 'profiles.yaml'} says which architectures it runs; add one "
                            "(or the profile with its figures).")
                raise RefarchError(f"Unknown {name} {', '.join(unknown)}; choose from "
                                   f"{', '.join(known)}.{hint}")
        for profile in o.profiles:
            if not self.profile_file(profile).is_file():
                raise RefarchError(
                    f"The chart {o.chart} has no profile file override-{profile}.yaml, but "
                    f"--refarch-profile {profile} asks for it. The reference architectures install each "
                    f"profile with `-f override-{profile}.yaml`; add the file or drop the option.")
        if not self.pairs:
            raise RefarchError(f"--refarch-profile {o.profiles} and --refarch-architecture {o.architectures} "
                               "select no (profile, architecture) pair that the chart has a profile file for.")

    def resolve_chart(self) -> None:
        """A directory is used in place; a .tgz is unpacked and a repo/chart reference pulled
        (once) into this session's work directory, never into the user's files."""
        o = self.options
        spec = str(o.chart)
        local = Path(spec).exists()
        self.chart = resolve_chart(spec, self.helm.binary, self._work_root,
                                   version=o.chart_version if not local else None, timeout=o.timeout)
        o.chart = self.chart.dir

    def _work_root(self) -> Path:
        """This session's temporary directory, made on first use (a chart directory needs none).
        :meth:`close` removes it; so does the interpreter's exit or the session's collection for a
        session nobody closed (a library caller, a test), so none is left in /tmp."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="harness-refarch-"))
            self._remove_workdir = weakref.finalize(self, shutil.rmtree, str(self._workdir), True)
        return self._workdir

    @cached_property
    def catalog(self) -> Catalog:
        """The catalogue, plus the chart's profile files without figures that a rule adopts."""
        catalog = load_catalog(self.options.fixtures)
        catalog.adopt(self.chart_profiles(), self.options.profiles_like)
        return catalog

    def chart_profiles(self) -> list[str]:
        """``<name>`` of every ``override-<name>.yaml`` beside Chart.yaml."""
        if self.chart is not None and self.chart.dir == self.options.chart:
            return sorted(self.chart.profiles)
        return sorted(p.name[len("override-"):-len(".yaml")] for p in self.options.chart.glob("override-*.yaml"))

    @cached_property
    def figureless_profiles(self) -> list[Profile]:
        """The profiles of this run without figures in the catalogue (adopted profile files)."""
        names = {p.profile.name for p in self.pairs}
        return [p for p in self.catalog.profiles.values() if not p.figures and p.name in names]

    @cached_property
    def backup_policy(self) -> backup.Policy:
        """What counts as backup evidence and how often backups run (fixtures/backup.yaml)."""
        return backup.load_policy(self.options.fixtures / "backup.yaml")

    @cached_property
    def backup_evidence(self) -> backup.Evidence:
        """The backup data and the operator's manifests, the same for every pair."""
        return backup.Evidence(self.backup_policy, self.operator_manifests)

    @cached_property
    def all_pairs(self) -> list[Pair]:
        return self.catalog.pairs(self.options.profiles or None, self.options.architectures or None)

    @cached_property
    def pairs(self) -> list[Pair]:
        """The pairs that run: those whose profile file exists beside Chart.yaml."""
        return [p for p in self.all_pairs if self.profile_file(p.profile.name).is_file()]

    @cached_property
    def missing_profiles(self) -> list[str]:
        """Profiles of the catalogue that the chart has no override file for (deselected)."""
        return sorted({p.profile.name for p in self.all_pairs} - {p.profile.name for p in self.pairs},
                      key=lambda n: (PROFILE_ORDER.index(n) if n in PROFILE_ORDER else 99, n))

    @cached_property
    def unknown_override_files(self) -> list[Path]:
        """``override-*.yaml`` files beside Chart.yaml that no profile of the catalogue knows."""
        known = {f"override-{p}.yaml" for p in self.catalog.profiles}
        return sorted(p for p in self.options.chart.glob("override-*.yaml") if p.name not in known)

    def profile_notes(self) -> list[str]:
        """Summary lines: profiles run without figures, profile files no rule adopts (not run)."""
        table = self.catalog.root / "profiles.yaml"
        lines = []
        for p in self.figureless_profiles:
            rule = self.catalog.rule_for(p.name)
            why = f"rule {rule.match!r} of 'without_figures'" if rule else "as asked"
            lines.append(f"harness-refarch: profile {p.name} has no figures in {table}: override-{p.name}.yaml runs "
                         f"the architectures of {p.like} ({why}) with every check that needs no figures; its sizing "
                         "is not judged (test_profile_figures says so)")
        for path in self.unknown_override_files:
            lines.append(f"harness-refarch: {path.name} matches no profile of the reference architectures and no rule "
                         f"of 'without_figures' in {table} (not run; add a rule there to test it)")
        return lines

    @property
    def helm_found(self) -> Helm | None:
        """helm if this run has looked for it already; never looks for it (a summary must not)."""
        found = self.__dict__.get("helm")
        return found if isinstance(found, Helm) else None

    @property
    def cache_started(self) -> bool:
        """Whether any render was asked for (the render pool exists)."""
        return self._cache is not None

    @cached_property
    def helm(self) -> Helm:
        helm = Helm(find_helm(self.options.helm), timeout=self.options.timeout)
        remembered = recall_version(helm, self._store)
        helm.check_version()
        if not remembered:
            remember_version(helm, self._store)
        return helm

    @cached_property
    def _store(self) -> RenderStore | None:
        if not self.options.cache:
            return None
        try:
            return RenderStore(self.options.cache_dir or default_dir())
        except OSError:
            return None  # an unwritable cache directory only costs speed

    @property
    def cache(self) -> RenderCache:
        if self._cache is None:
            workers = self.options.workers or default_render_workers()
            self._cache = RenderCache(self.helm, workers=workers, store=self._store)
        return self._cache

    # -- render requests -------------------------------------------------------------------
    def profile_file(self, profile: str) -> Path:
        return self.options.chart / f"override-{profile}.yaml"

    def layers(self, pair: Pair, standby: bool = False) -> list[Path]:
        """The ``-f`` layers in the order Harness documents: architecture defaults, the user's
        own files (``your-override.yaml``), the profile file; ``--set`` comes after all of them."""
        arch = pair.architecture
        layers = [*self.catalog.base_layers, arch.overlay]
        if standby:
            if arch.standby_overlay is None:
                raise RefarchError(f"Architecture {arch.name} has no standby overlay.")
            layers.append(arch.standby_overlay)
        return [*layers, *self.options.values, self.profile_file(pair.profile.name)]

    def request(self, pair: Pair, standby: bool = False, repeat: int = 0) -> RenderRequest:
        return RenderRequest(
            chart=self.options.chart, release=self.options.release,
            namespace=self.options.namespace, kube_version=self.options.kube_version,
            values=tuple(self.layers(pair, standby)), sets=tuple(self.options.sets), repeat=repeat,
            label=f"{pair.id}{' standby' if standby else ''}{' (second render)' if repeat else ''}")

    # -- helm lint: once per distinct values stack ---------------------------------------------
    def lint(self, pair: Pair, standby: bool = False) -> list[Finding]:
        """``helm lint --strict`` of the pair's values stack; its messages as findings (bounded).

        Runs on the render pool (see :meth:`prefetch_lint`) and is kept in the render store."""
        request = self.request(pair, standby)
        return self.cache.submit(("lint", request), lambda: self._lint(request)).result()

    def prefetch_lint(self, pairs: Iterable[Pair]) -> None:
        for pair in pairs:
            request = self.request(pair)
            self.cache.submit(("lint", request), lambda r=request: self._lint(r))  # type: ignore[misc]

    def _lint(self, request: RenderRequest) -> list[Finding]:
        store, helm = self.cache.store, self.cache.helm  # the pool's helm: it takes a helm slot
        if store is None:
            return _lint(helm, request)
        key = store.key(request.chart, request.values, request.sets, request.release, request.namespace,
                        request.kube_version, helm.identity, 0, kind="lint-messages")
        return portable_findings(store, key, lambda: _lint(helm, request), (request.chart, *request.values))

    # -- values: the layers of a render, coalesced as helm does -----------------------------
    @cached_property
    def _chart_tree(self) -> ChartNode | RefarchError:
        try:
            return load_chart(self.options.chart)
        except RefarchError as exc:
            return exc

    @property
    def chart_node(self) -> ChartNode:
        """The chart tree; a chart that cannot be read (a values.yaml past the YAML limits) is read
        once and every test needing it fails with that paragraph, not one read per test."""
        return _kept(self._chart_tree)

    @cached_property
    def declared(self) -> Declared:
        """Every key path the chart declares in its values or reads in its templates."""
        return chart_memo.declared(self.cache.store, self.options.chart, lambda: declared_paths(self.chart_node))

    @cached_property
    def chart_defaults(self) -> dict[str, Any]:
        return chart_values(self.chart_node)

    def layer(self, path: Path) -> Layer:
        if path not in self._layers:
            fixtures = self.options.fixtures
            label = str(path.relative_to(fixtures)) if path.is_relative_to(fixtures) else (
                path.name if path.parent == self.options.chart else str(path))
            try:
                self._layers[path] = load_layer(path, label)
            except RefarchError as exc:  # a profile file past the YAML limits: read once, not once per test
                self._layers[path] = exc
        return _kept(self._layers[path])

    def architecture_layers(self, pair: Pair) -> set[Path]:
        """The files that make the architecture: base layers, its overlay, its standby overlay."""
        arch_files = {*self.catalog.base_layers, pair.architecture.overlay}
        if pair.architecture.standby_overlay is not None:
            arch_files.add(pair.architecture.standby_overlay)
        return arch_files

    def labelled_layers(self, pair: Pair, standby: bool = False) -> list[tuple[Layer, str, str]]:
        """(layer, label for messages, role) in render order; role is architecture, user, profile or set."""
        arch_files = self.architecture_layers(pair)
        out = []
        for path in self.layers(pair, standby):
            layer = self.layer(path)
            if path in arch_files:
                out.append((layer, f"architecture {pair.architecture.name} overlay {layer.origin}", "architecture"))
            elif path == self.profile_file(pair.profile.name):
                out.append((layer, f"profile file {layer.origin}", "profile"))
            else:
                out.append((layer, f"values file {layer.origin}", "user"))
        if self.options.sets:
            out.append((sets_layer(self.options.sets), "--refarch-set", "set"))
        return out

    def merged(self, pair: Pair, standby: bool = False) -> Merged:
        key = (pair.id, standby)
        if key not in self._merged:
            layers = [layer for layer, _, _ in self.labelled_layers(pair, standby)]
            self._merged[key] = coalesce(layers, base=self.chart_defaults)
        return self._merged[key]

    def effective_pair(self, pair: Pair) -> Pair:
        """``pair`` with its expectations read from the merged values (external hosts)."""
        if pair.id not in self._effective:
            self._effective[pair.id] = layering.effective(pair, self.merged(pair))
        return self._effective[pair.id]

    def stored_file(self, kind: str, path: Path, compute: Callable[[], list[Finding]],
                    extra: str = "") -> list[Finding]:
        """Findings about one input file (yamllint), once per file content across pairs and runs."""
        memo = (kind, str(path), False, extra)
        if memo not in self._stored:
            store = self.cache.store
            if store is None:
                self._stored[memo] = compute()
            else:
                import hashlib

                key = hashlib.sha256(f"{kind}\0{extra}\0{digest_of(path)}".encode()).hexdigest()
                self._stored[memo] = portable_findings(store, key, compute, (path,))
        return self._stored[memo]

    def stored(self, kind: str, pair: Pair, compute: Callable[[], list[Finding]], standby: bool = False,
               extra: str = "") -> list[Finding]:
        """Findings of a deterministic check of one render, kept in the render store (a warm
        run does not validate schemas or lint files again); computed once per session."""
        memo = (kind, pair.id, standby, extra)
        if memo not in self._stored:
            request = self.request(pair, standby)
            store = self.cache.store
            if store is None:
                self._stored[memo] = compute()
            else:
                key = store.key(request.chart, request.values, request.sets, request.release, request.namespace,
                                request.kube_version, self.helm.identity, 0, kind=f"{kind}:{extra}")
                self._stored[memo] = portable_findings(store, key, compute, (request.chart, *request.values))
        return self._stored[memo]

    # -- keys that do nothing: static candidates decided by rendering ------------------------
    def private_dir(self, name: str) -> Path:
        """A directory of this session's own (never beside the user's files), removed at exit."""
        with self._lock:  # stacks are decided on several threads: one work directory for all
            path = self._work_root() / name
            path.mkdir(mode=0o700, exist_ok=True)
        return path

    def decide_later(self, stacks: Iterable[tuple[Pair, bool]]) -> None:
        """Start deciding which keys of each (pair, standby) values stack do nothing, each on a
        thread of its own: a decision is a chain of probe renders, each chosen from the last one's
        result, and chains of different stacks keep the render pool busy while tests run,
        instead of one chain at a time when a test asks. The outcome is the same either way."""
        with self._lock:
            for pair, standby in stacks:
                key = (pair.id, standby)
                if key in self._unread or key in self._deciding:
                    continue
                if self._deciders is None:
                    self._deciders = ThreadPoolExecutor(max_workers=16, thread_name_prefix="refarch-decide")
                self._deciding[key] = self._deciders.submit(unread.decide_stack, self, pair, standby)

    def unread(self, pair: Pair, standby: bool = False) -> Decision:
        """Which keys of the pair's values stack rendering proved to do nothing (memoised)."""
        key = (pair.id, standby)
        if key not in self._unread:
            with self._lock:
                started = self._deciding.pop(key, None)
            self._unread[key] = started.result() if started is not None else unread.decide_stack(self, pair, standby)
        return self._unread[key]

    # -- determinism: one extra render per architecture ------------------------------------
    def representative(self, pair: Pair) -> Pair:
        """The pair whose second render tells what helm generates for ``pair``'s architecture:
        the first pair of that architecture the run selected (so ``-k large`` renders no small);
        under ``--refarch-shard``, selected by any shard (one run and its shards pick the same)."""
        pool = self.scope_pairs or self.selected_pairs or self.pairs
        return next((p for p in pool if p.architecture.name == pair.architecture.name), pair)

    def learned_volatility(self) -> dict[str, Volatility]:
        """What the determinism renders showed so far, by architecture (never renders)."""
        return dict(self._volatility)

    def volatility(self, pair: Pair) -> Volatility:
        """What changes between two renders of identical inputs, for ``pair``'s architecture."""
        rep = self.representative(pair)
        if rep.architecture.name not in self._volatility:
            first, second = self.manifest(rep), self.cache.get(self.request(rep, repeat=1))
            self._volatility[rep.architecture.name] = learn_volatile(first, second)
        return self._volatility[rep.architecture.name]

    def requests_for(self, pair: Pair, standby: bool = True, previous: bool = True) -> list[RenderRequest]:
        """The renders a pair's checks read: its own, its DR standby's (``standby``) and the
        previous profile's (``previous``) where they exist. The one list of them: the plugin
        starts them before the tests run, ``diff`` before it compares."""
        out = [self.request(pair)]
        if standby and pair.architecture.standby_overlay is not None:
            out.append(self.request(pair, standby=True))
        before = self.previous(pair) if previous else None
        if before is not None:
            out.append(self.request(before))
        return out

    def previous(self, pair: Pair) -> Pair | None:
        """The pair one size down: same architecture, previous profile; demo below small."""
        if pair.id not in self._previous:
            self._previous[pair.id] = self._find_previous(pair)
        return self._previous[pair.id]

    @cached_property
    def _available_profiles(self) -> set[str]:
        return {name for name in self.catalog.profiles if self.profile_file(name).is_file()}

    def _find_previous(self, pair: Pair) -> Pair | None:
        available = self._available_profiles
        order = [p for p in PROFILE_ORDER if p in self.catalog.profiles and p in available]
        index = order.index(pair.profile.name) if pair.profile.name in order else 0
        for name in reversed(order[:index]):
            if name in pair.architecture.profiles:
                return Pair(self.catalog.profiles[name], pair.architecture)
            candidates = [p for p in self.catalog.pairs() if p.profile.name == name]
            if candidates:
                return candidates[0]
        return None

    def prefetch(self, requests: Iterable[RenderRequest]) -> None:
        self.cache.prefetch(requests)

    def manifest(self, pair: Pair, standby: bool = False) -> Manifest:
        return self.cache.get(self.request(pair, standby))

    # -- what a pair's tests are about -----------------------------------------------------
    def workload_ids(self, pair: Pair, kind: str = "all") -> list[str]:
        """Per-workload test ids of ``pair``, from what its render contains.

        A failed render or one without workloads yields one placeholder id, whose test fails.
        """
        try:
            manifest = self.manifest(pair)
        except RenderFailed:
            return [RENDER_FAILED]
        if not manifest.workloads:
            return [NO_WORKLOADS]
        keep = WORKLOAD_FILTERS[kind]
        return sorted({key_identity(w.key) for w in manifest.workloads.values() if keep(w)})

    # -- findings, golden files ------------------------------------------------------------
    def findings(self, check: Callable[..., list[Finding]], *args: Any) -> list[Finding]:
        """``check(*args)``, memoised, with every object in a finding's workload and field named
        by its identity (:func:`stable_findings`)."""
        key = (check, *[a.id if isinstance(a, Pair) else a if _hashable(a) else id(a) for a in args])
        if key not in self._findings:
            self._findings[key] = stable_findings(check(*args))
        return self._findings[key]

    def traced(self, check: Callable[..., list[Finding]], pair: Pair, *args: Any) -> list[Finding]:
        """The findings of ``check`` on ``pair`` as its layers make it, each failing value traced to
        the values line that set it; once per check and pair, however many per-workload tests
        read them (tracing per test made a 1,000-workload chart quadratic)."""
        found = self.findings(check, self.effective_pair(pair), *args)
        key = (id(found), pair.id)
        if key not in self._traced:
            self._traced[key] = (found, layering.with_sources(found, self.merged(pair)))
        return self._traced[key][1]

    @cached_property
    def chart_id(self) -> golden.ChartStamp:
        """The chart under test by Chart.yaml's name and version (no digest: nothing read)."""
        name, version = (self.chart.name, self.chart.version) if self.chart is not None else ("", "")
        return golden.ChartStamp(name, version)

    @cached_property
    def chart_stamp(self) -> golden.ChartStamp:
        """The chart under test as golden files record it: name, version, content digest (the
        render store's digest of every file of the chart)."""
        from harness_refarch.helm.store import chart_digest

        return golden.ChartStamp(self.chart_id.name, self.chart_id.version,
                                 "sha256:" + chart_digest(self.options.chart))

    def golden(self, pair: Pair) -> dict[str, Any] | None:
        path = self.golden_path(pair)
        if self.options.update_golden and path not in self._golden_done:
            self._golden_done.add(path)
            status = golden.record(path, pair, golden.snapshot(self.manifest(pair), self.volatility(pair)),
                                   self.chart_stamp)
            self.golden_written.append((path, status))
        if path not in self._golden_docs:
            self._golden_docs[path] = golden.load(path)
        return self._golden_docs[path]

    def golden_findings(self, pair: Pair, manifest: Manifest) -> list[Finding]:
        """The pair's golden file as a whole (memoised): missing, recorded on another chart (said
        here once, nothing else compared), without its chart header, or workloads it records
        that the render lacks. Per-workload differences are :meth:`golden_workload_findings`."""
        return self.findings(self._golden_findings, pair, manifest)

    def _golden_findings(self, pair: Pair, manifest: Manifest) -> list[Finding]:
        path = self.golden_path(pair)
        expected = self.golden(pair)
        found = golden.file_findings(self._shown(path), expected, self.chart_id)
        if expected is None or golden.chart_problem(path, expected, self.chart_id, pair.id):
            return found
        vol = self.volatility(pair)
        return found + golden.recorded_not_rendered(expected, self._golden_snapshot(pair, manifest), vol,
                                                    golden.hint(path, expected, self.chart_stamp))

    def _golden_snapshot(self, pair: Pair, manifest: Manifest) -> dict[str, Any]:
        """The render as a golden file would record it, once per pair."""
        if pair.id not in self._golden_snaps:
            self._golden_snaps[pair.id] = golden.snapshot(manifest, self.volatility(pair))
        return self._golden_snaps[pair.id]

    def golden_problem(self, pair: Pair) -> str:
        """Why ``pair``'s golden file cannot be compared at all (missing, another chart's), in
        one line pointing at ``test_golden_workloads``; empty when it can."""
        path = self.golden_path(pair)
        return golden.chart_problem(self._shown(path), self.golden(pair), self.chart_id, pair.id)

    @property
    def golden_root(self) -> Path:
        """The folder of the golden files: ``<root>/<profile>/<architecture>.yaml``."""
        return self.options.golden or self.catalog.root / "golden"

    def golden_path(self, pair: Pair) -> Path:
        return self.catalog.golden_path(pair, self.options.golden)

    def _shown(self, path: Path) -> Path:
        """A golden file as findings name it: ``fixtures/golden/<profile>/<architecture>.yaml``
        (``<golden folder name>/<profile>/<architecture>.yaml`` for a repository's own folder), the
        same on every machine (finding keys, waivers and baselines stay portable)."""
        for root in (self.catalog.root, self.golden_root):
            if path.is_relative_to(root):
                return Path(root.name) / path.relative_to(root)
        return path

    def golden_workload_findings(self, pair: Pair, manifest: Manifest, workload: str) -> list[Finding]:
        """One workload of the render (``workload`` as its test id names it) against its golden
        entry; an entry the file lacks is a finding. A golden file that cannot be compared at all
        (missing, another chart's) is one finding, the line of :meth:`golden_problem` (a finding,
        so that a baseline or waiver can accept it like any other)."""
        path = self.golden_path(pair)
        expected = self.golden(pair)
        problem = self.golden_problem(pair)
        if problem or expected is None:
            return [golden.pointer(workload, problem)]
        vol = self.volatility(pair)
        keys = [k for k in manifest.workloads if workload in (key_identity(k), vol.normalise(k))]
        return golden.compare_one(workload, keys, expected, self._golden_snapshot(pair, manifest),
                                  vol, golden.hint(path, expected, self.chart_stamp))

    def golden_notes(self) -> list[str]:
        """Summary lines: golden files of this run's pairs recorded on another chart (said once);
        reads only the files' headers, never renders."""
        other: dict[str, list[Path]] = {}
        for pair in self.pairs:
            path = self.golden_path(pair)
            try:
                doc = golden.load(path)
                recorded = golden.stamp(doc, path) if doc is not None else None
            except RefarchError:
                continue
            if recorded is not None and not recorded.same_chart(self.chart_id):
                other.setdefault(str(recorded), []).append(path)
        current = self.chart_id
        return [f"harness-refarch: {len(paths)} golden file(s) under {self.golden_root} were recorded on "
                f"another chart ({chart}; this run renders {current}): not compared; test_golden_workloads says so "
                "once per pair and each per-workload golden test fails with one finding pointing there"
                for chart, paths in sorted(other.items())]

    def unused_golden_files(self) -> list[Path]:
        """Golden files under fixtures/golden that no pair of the catalogue uses."""
        used = {self.golden_path(p) for p in self.catalog.pairs()}
        root = self.golden_root
        return sorted(p for p in root.glob("*/*.yaml") if p not in used) if root.is_dir() else []

    def close(self, wait: bool = True) -> None:
        if self._deciders is not None:
            self._deciders.shutdown(wait=False, cancel_futures=True)  # those running end with the renders
        if self._cache is not None:
            self._cache.close(wait=wait)
        if self._remove_workdir is not None:
            self._remove_workdir()  # once: a finalizer runs at most one time


def _kept(value: _T | RefarchError) -> _T:
    """``value``, or the kept error raised again (with a fresh traceback, so it does not grow)."""
    if isinstance(value, RefarchError):
        raise value.with_traceback(None) from None
    return value


def applies(rs: RefarchSession, pair: Pair, where: dict[str, Any]) -> bool:
    """Whether a check marked ``refarch(**where)`` runs on ``pair`` (the pytest plugin and
    ``harness-refarch diff`` decide the same way)."""
    for key, want in where.items():
        if key == "previous":
            have: Any = rs.previous(pair) is not None
        elif key == "minimum":
            have = pair.profile.minimum_cpu is not None or pair.profile.minimum_memory is not None
        elif key == "figures":
            have = pair.profile.figures
        elif key == "first_of_profile":
            have = next((p.id for p in rs.pairs if p.profile.name == pair.profile.name), None) == pair.id
        elif key == "external":
            have = pair.architecture.external
        elif key == "in_cluster":
            have = not pair.architecture.external
        else:
            have = getattr(pair.architecture, key)
        if bool(have) != bool(want):
            return False
    return True


def _is_jvm(w: Workload) -> bool:
    return any("MEMORY" in c.env for c in w.main_containers)


def _is_stateless(w: Workload) -> bool:
    return w.kind in ("Deployment", "ReplicaSet") and not w.stateful


WORKLOAD_FILTERS: dict[str, Callable[[Workload], bool]] = {
    "all": lambda w: True,
    "stateless": _is_stateless,
    "jvm": _is_jvm,
}


def stable_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings keyed by object identity: ``Job/ti-migration-wjwtqj`` becomes ``Job/ti-migration-*``
    in the workload and field, which test ids, waivers and baselines match, so a name generated
    at render time never changes which test a finding belongs to or which waiver matches it."""
    out = []
    for f in findings:
        workload, field_ = stable_text(f.workload), stable_text(f.field)
        out.append(f if (workload, field_) == (f.workload, f.field) else
                   dataclasses.replace(f, workload=workload, field=field_))
    return out


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


_LINT_LINE = re.compile(r"^\[(ERROR|WARNING)\]\s*(.*)$")
_LINT_OTHER = re.compile(r"^(?:\[[A-Z]+\]|==> |Error: )")  # [INFO], the chart header, helm's closing line
_LINT_FILE = re.compile(r"(?:template: )?((?:[\w.-]+/)*templates/[^\s:]+|values\.yaml|Chart\.yaml)"
                        r"(?::\d+(?::\d+)?)?:?\s*")
MAX_LINT_FINDINGS = 80


def _lint_blocks(text: str) -> list[tuple[str, str, list[str]]]:
    """``(level, file part, lines)`` of every ``[ERROR]``/``[WARNING]`` message helm lint printed.

    A message runs from its ``[LEVEL]`` line to the next blank line, ``[LEVEL]`` line, ``==>``
    header or helm's closing ``Error:`` line: helm v4 wraps a message over indented lines, and
    both majors print a values schema violation list (``- at '/key': ...``) on lines of its own,
    not indented."""
    blocks: list[tuple[str, str, list[str]]] = []
    inside = False
    for line in text.splitlines():
        match = _LINT_LINE.match(line)
        if match:
            where, sep, first = match.group(2).strip().partition(": ")
            blocks.append((match.group(1), where if sep else "", [first if sep else where]))
            inside = True
        elif not line.strip() or _LINT_OTHER.match(line):
            inside = False
        elif inside:
            blocks[-1][2].append(line.strip())
    return blocks


def _lint_items(lines: list[str]) -> list[str]:
    """One message per ``- `` item of a list (each schema violation on its own, with the text
    that introduces its list, such as the chart it belongs to), sorted: helm prints the items in
    no stable order. A message without a list is its lines joined."""
    if not any(line.startswith("- ") for line in lines):
        return [" ".join(line for line in lines if line)]
    items: list[str] = []
    context: list[str] = []
    after_item = False
    for line in lines:
        if line.startswith("- "):
            items.append(" ".join([*context, line]))
            after_item = True
        elif line:
            if after_item:
                context = context[:1]  # the next chart's list: keep helm's sentence, not the last chart's name
            context.append(line)
            after_item = False
    return sorted(items)


def lint_findings(text: str) -> list[Finding]:
    """Each ``[ERROR]``/``[WARNING]`` message helm lint printed, as its own finding.

    Each message is gathered with its continuation lines (:func:`_lint_blocks`), and a list of
    schema violations gives one finding per violation. The finding's ``workload`` is the file
    helm names (the template, values.yaml, Chart.yaml) and its ``field`` is the severity and
    helm's message, so that a waiver or baseline entry matches that one message and a new,
    different lint error is never hidden by it. Line and column numbers are kept out of the
    field (an edit above a known problem must not make it new)."""
    messages: list[tuple[str, str]] = []
    for level, where, lines in _lint_blocks(text):
        messages += [(level, f"{where}: {item}" if where else item) for item in _lint_items(lines)]
    out: list[Finding] = []
    for level, said in dict.fromkeys(messages):
        where, _, rest = said.partition(": ")
        located = _LINT_FILE.match(rest)
        if located:
            where, rest = located.group(1), rest[located.end():]
        message = " ".join(mask(rest or said).split())
        if len(message) > 300:
            message = message[:300] + " ..."
        out.append(Finding("helm-lint", where or "chart", f"{level.lower()}: {message}", "no lint message",
                           f"helm lint --strict reports this {level.lower()}"))
    if len(out) > MAX_LINT_FINDINGS:
        out = [*out[:MAX_LINT_FINDINGS], Finding("helm-lint", "chart", "more messages", "no lint message",
                                                 f"{len(out) - MAX_LINT_FINDINGS} more lint messages not shown")]
    return out


def _lint(helm: Helm, request: RenderRequest) -> list[Finding]:
    try:
        helm.run(request.lint_args())
    except HelmFailed as exc:
        found = lint_findings(f"{exc.stdout}\n{exc.output}")
        if not found:
            return [Finding("helm-lint", "chart", "helm lint --strict", "passes", exc.reason,
                            hint=bounded(exc.output, 20, 20))]
        return found
    return []


def portable_findings(store: RenderStore, key: str, compute: Callable[[], list[Finding]],
                      paths: Sequence[Path]) -> list[Finding]:
    """:func:`get_or_compute` for findings that may name input files by their path (yamllint's
    ``file:line`` sources, helm's messages): the store keys inputs by content, so an entry made
    in another checkout or on another machine is a hit here, and it must name *these* files.
    Each path is kept as a placeholder in the entry and put back on the way out."""
    places = sorted({str(p): f"\0input{i}\0" for i, p in enumerate(paths)}.items(), key=lambda kv: -len(kv[0]))

    def swap(findings: list[Finding], pairs: Iterable[tuple[str, str]]) -> list[Finding]:
        pairs = list(pairs)
        out = []
        for f in findings:
            fields = {}
            for name in ("workload", "field", "expected", "actual", "hint", "source"):
                text = getattr(f, name)
                for old, new in pairs:
                    text = text.replace(old, new)
                fields[name] = text
            out.append(dataclasses.replace(f, **fields) if fields != {n: getattr(f, n) for n in fields} else f)
        return out

    stored = get_or_compute(store, key, lambda: swap(compute(), places))
    return swap(stored, [(token, path) for path, token in places])
