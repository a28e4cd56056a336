"""One conformance run: options resolved to paths, the matrix, renders and memoised findings.

Kept free of pytest so that a future CLI (``refarch diff``, reports) can drive the same
render -> manifest -> checks pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from harness_refarch.catalog import PROFILE_ORDER, Catalog, Pair, load_catalog, load_yaml
from harness_refarch.checks import golden
from harness_refarch.errors import RefarchError
from harness_refarch.findings import Finding
from harness_refarch.helm import Helm, find_helm
from harness_refarch.manifest import Manifest
from harness_refarch.render import RenderCache, RenderRequest

DEFAULT_KUBE_VERSION = "1.29.0"


@dataclass
class Options:
    """What the user asked for, before any validation."""

    chart: Path
    fixtures: Path
    helm: str | None = None
    profiles: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    values: list[Path] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    release: str = "harness"
    namespace: str = "harness"
    kube_version: str = DEFAULT_KUBE_VERSION
    update_golden: bool = False
    workers: int = 0


class RefarchSession:
    def __init__(self, options: Options) -> None:
        self.options = options
        self._findings: dict[tuple[Any, ...], list[Finding]] = {}
        self._cache: RenderCache | None = None
        self.golden_written: list[Path] = []
        self._recorded: dict[Path, dict[str, Any]] = {}
        self.validate()

    # -- validation: one readable paragraph per problem ------------------------------------
    def validate(self) -> None:
        o = self.options
        if not (o.chart / "Chart.yaml").is_file():
            raise RefarchError(
                f"The chart under test {o.chart} is not a Helm chart directory (no Chart.yaml). "
                "Pass --chart-path (or set ATS_CHART_PATH) to an unpacked chart such as "
                "charts/harness-prod.")
        for path in o.values:
            if not path.is_file():
                raise RefarchError(f"The values file {path} given with --values does not exist. "
                                   "Check the path (relative paths start at the current directory).")
            doc = load_yaml(path, "values file")
            if doc is not None and not isinstance(doc, dict):
                raise RefarchError(f"The values file {path} must hold a YAML mapping at the top "
                                   f"level, not a {type(doc).__name__}. Fix the file.")
        for assignment in o.sets:
            if "=" not in assignment:
                raise RefarchError(f"--set {assignment!r} is not of the form path.to.key=value.")
        for name, known, given in (("--profile", self.catalog.profiles, o.profiles),
                                   ("--architecture", self.catalog.architectures, o.architectures)):
            unknown = [g for g in given if g not in known]
            if unknown:
                raise RefarchError(f"Unknown {name} {', '.join(unknown)}; choose from "
                                   f"{', '.join(known)}.")
        if not self.pairs:
            raise RefarchError(f"--profile {o.profiles} and --architecture {o.architectures} select "
                               "no (profile, architecture) pair of the reference architectures.")
        for profile in {p.profile.name for p in self.pairs}:
            if not self.profile_file(profile).is_file():
                raise RefarchError(
                    f"The chart {o.chart} has no profile file override-{profile}.yaml. The "
                    "reference architectures install each profile with "
                    f"`-f override-{profile}.yaml`; add the file or restrict --profile.")

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.options.fixtures)

    @cached_property
    def pairs(self) -> list[Pair]:
        return self.catalog.pairs(self.options.profiles or None, self.options.architectures or None)

    @cached_property
    def helm(self) -> Helm:
        return Helm(find_helm(self.options.helm))

    @property
    def cache(self) -> RenderCache:
        if self._cache is None:
            workers = self.options.workers or min(8, os.cpu_count() or 2)
            self._cache = RenderCache(self.helm, workers=workers)
        return self._cache

    # -- render requests -------------------------------------------------------------------
    def profile_file(self, profile: str) -> Path:
        return self.options.chart / f"override-{profile}.yaml"

    def request(self, pair: Pair, standby: bool = False) -> RenderRequest:
        arch = pair.architecture
        layers = [*self.options.values, *self.catalog.base_layers, arch.overlay]
        if standby:
            if arch.standby_overlay is None:
                raise RefarchError(f"Architecture {arch.name} has no standby overlay.")
            layers.append(arch.standby_overlay)
        layers.append(self.profile_file(pair.profile.name))
        return RenderRequest(
            chart=self.options.chart, release=self.options.release,
            namespace=self.options.namespace, kube_version=self.options.kube_version,
            values=tuple(layers), sets=tuple(self.options.sets),
            label=f"{pair.id}{' standby' if standby else ''}")

    def requests_for(self, pair: Pair) -> list[RenderRequest]:
        reqs = [self.request(pair)]
        if pair.architecture.standby_overlay is not None:
            reqs.append(self.request(pair, standby=True))
        return reqs

    def previous(self, pair: Pair) -> Pair | None:
        """The pair one size down: same architecture, previous profile; demo below small."""
        order = [p for p in PROFILE_ORDER if p in self.catalog.profiles]
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

    # -- findings, golden files ------------------------------------------------------------
    def findings(self, check: Callable[..., list[Finding]], *args: Any) -> list[Finding]:
        key = (check, *[a.id if isinstance(a, Pair) else a for a in args])
        if key not in self._findings:
            self._findings[key] = check(*args)
        return self._findings[key]

    def golden(self, pair: Pair) -> dict[str, Any] | None:
        path = self.catalog.golden_path(pair)
        if self.options.update_golden and path not in self.golden_written:
            snap = golden.snapshot(self.manifest(pair))
            path.parent.mkdir(parents=True, exist_ok=True)
            header = (f"# Golden expectations for profile {pair.profile.name}, architecture "
                      f"{pair.architecture.name}.\n# Recorded with --refarch-update; review "
                      "every change to this file like code.\n")
            path.write_text(header + yaml.safe_dump(snap, sort_keys=True), encoding="utf-8")
            self.golden_written.append(path)
        if not path.is_file():
            return None
        return load_yaml(path, "golden file") or {}

    def golden_findings(self, pair: Pair, manifest: Manifest) -> list[Finding]:
        """Differences between the render and the recorded golden file of ``pair``."""
        expected = self.golden(pair)
        if expected is None:
            path = self.catalog.golden_path(pair)
            return [Finding(golden.CHECK, "golden file", str(path), "recorded expectations",
                            "no file", "run pytest --refarch-update, then review and commit it")]
        return golden.compare(expected, golden.snapshot(manifest))

    def recorded_workloads(self, pair: Pair, kind: str = "all") -> list[str]:
        """Workload keys of the pair's golden file that a per-workload test covers."""
        path = self.catalog.golden_path(pair)
        if path not in self._recorded:
            doc = load_yaml(path, "golden file") if path.is_file() else None
            self._recorded[path] = (doc or {}).get("workloads") or {}
        keep = golden.WORKLOAD_FILTERS[kind]
        return sorted(k for k, entry in self._recorded[path].items() if keep(entry or {}))

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
