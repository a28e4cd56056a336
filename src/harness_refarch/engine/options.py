"""One table of the suite's options: flag, ``REFARCH_*`` variable, default and help, read by the
pytest plugin and by the command line alike.

A value comes from the first of: the command line, the option's environment variable, the
repository's configuration file (when a lookup is given), the default. Repeatable options split
their environment variable on a separator (``os.pathsep`` for paths); flags take a boolean word.
Numbers are finite and within bounds, or one paragraph naming the option and what it must be.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness_refarch.model.errors import RefarchError

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Option:
    """One ``--refarch-*`` option. ``kind``: str, flag, int, float or list (repeatable)."""

    flag: str
    help: str
    kind: str = "str"
    metavar: str | None = None
    default: Any = None
    env_sep: str | None = None  # how a repeatable option's environment variable is split
    low: float = -math.inf
    high: float = math.inf
    what: str = ""  # what a number must be, for the bad-input paragraph
    commands: frozenset[str] = frozenset({"pytest"})  # where it is offered: pytest, diff

    @property
    def name(self) -> str:
        return self.flag.removeprefix("--refarch-")

    @property
    def dest(self) -> str:
        return "refarch_" + self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return "REFARCH_" + self.name.replace("-", "_").upper()


_BOTH = frozenset({"pytest", "diff"})
_DIFF = frozenset({"diff"})

OPTIONS: tuple[Option, ...] = (
    Option("--refarch-profile", "only this size profile (repeatable): demo, small, medium, large", "list", "NAME",
           env_sep=",", commands=_BOTH),
    Option("--refarch-architecture", "only this deployment architecture (repeatable)", "list", "NAME",
           env_sep=",", commands=_BOTH),
    Option("--refarch-values", "your own values file ('your-override.yaml'), layered after the architecture overlay "
           "and before the profile file (repeatable, in order)", "list", "FILE", env_sep=os.pathsep, commands=_BOTH),
    Option("--refarch-set", "extra helm --set, applied after every values file (repeatable)", "list", "KEY=VALUE",
           env_sep="\n", commands=_BOTH),
    Option("--refarch-manifests", "the operator's own backup objects (Velero Schedule, VolumeSnapshotClass, backup "
           "CronJob), for charts that render none: YAML manifests, judged with the render (repeatable)", "list",
           "FILE", env_sep=os.pathsep, commands=_BOTH),
    Option("--refarch-profile-map", "compare OLD's profile OLD with NEW's profile NEW, e.g. prod=large for a release "
           "that shipped override-prod.yaml where the next ships override-large.yaml (repeatable)", "list",
           "OLD=NEW", env_sep=",", commands=_DIFF),
    Option("--refarch-checks", "also run the checks this Python module registers (imported by its dotted name, so "
           "it runs code, like any pytest plugin; repeatable); installed packages register theirs through the "
           "harness_refarch.checks entry point group", "list", "MODULE", env_sep=",", commands=_BOTH),
    Option("--refarch-helm", "helm binary (default: $HELM_BIN, then helm on PATH, then the pinned helm installed "
           "by harness-refarch-install-helm)", metavar="PATH", commands=_BOTH),
    Option("--refarch-release-name", "helm release name (default harness)", metavar="NAME", default="harness",
           commands=_BOTH),
    Option("--refarch-namespace", "release namespace (default harness)", metavar="NAME", default="harness",
           commands=_BOTH),
    Option("--refarch-fixtures", "reference-architecture data directory (default: <rootdir>/fixtures)",
           metavar="DIR", commands=_BOTH),
    Option("--refarch-golden", "golden files folder, <DIR>/<profile>/<architecture>.yaml (default: refarch/golden "
           "beside the repository's configuration file, else <fixtures>/golden)", metavar="DIR"),
    Option("--refarch-update", "record golden expectations from the current chart instead of comparing", "flag"),
    Option("--refarch-prune", "with --refarch-update: delete golden files that no pair uses any more", "flag"),
    Option("--refarch-render-workers", "concurrent helm renders (default: CPU count, at most 8; "
           "under pytest -n, shared out among the workers)", "int", "N",
           default=0, low=0, high=64, what="a whole number of concurrent helm calls from 1 to 64 (0: the CPU count, "
           "at most 8)"),
    Option("--refarch-render-timeout", "seconds one helm call may take before it is killed (default 120)", "float",
           "SECONDS", default=120.0, low=0.001, high=86_400,
           what="a finite number of seconds above 0 and at most 86400 (one day)"),
    Option("--refarch-shard", "run only shard K of N: a deterministic share of the pairs balanced by estimated "
           "work, every pair in exactly one shard; combine the shards' JSON reports with `harness-refarch merge`",
           metavar="K/N"),
    Option("--refarch-report", "write a report: HTML (self-contained), Markdown when PATH ends in .md, JSON when "
           ".json", metavar="PATH"),
    Option("--refarch-sarif", "write SARIF 2.1.0 (code scanning): one result per root cause, at the values file "
           "line that set it", metavar="FILE"),
    Option("--refarch-annotations", "github: print one ::error/::warning line per root cause (default under "
           "GITHUB_ACTIONS=true); none: off", metavar="github|none"),
    Option("--refarch-fail-on", "findings below this severity are reported without failing (default info: every "
           "finding fails)", metavar="error|warning|info"),
    Option("--refarch-node-shape", "plan node counts for this node shape, e.g. 8,32Gi (repeatable, one per node "
           "pool)", "list", "CPU,MEMORY", env_sep=";"),
    Option("--refarch-node-reserve", "share of each node's CPU and memory kept for the system in node plans "
           "(default 0.10)", "float", "FRACTION", default=0.10, low=0, high=0.99,
           what="a fraction from 0 to 0.99 of each node kept for the system, e.g. 0.1"),
    Option("--refarch-no-cache", "do not read or write the on-disk render cache (renders are still shared within "
           "the run)", "flag"),
    Option("--refarch-waivers", "waivers file: known findings reported as xfail with their reason (default: "
           "<fixtures>/waivers.yaml when it exists)", metavar="FILE"),
    Option("--refarch-baseline-update", "write one waiver per current finding to FILE, so a chart with known gaps "
           "gates on new ones only", metavar="FILE"),
)

BY_FLAG: dict[str, Option] = {o.flag: o for o in OPTIONS}

Lookup = Callable[[str], Any]  # option name (without --refarch-) -> the configuration file's value, or None


def for_command(command: str) -> list[Option]:
    """The options a command offers (``pytest`` or ``diff``), in table order."""
    return [o for o in OPTIONS if command in o.commands]


def pytest_kwargs(option: Option) -> dict[str, Any]:
    """``parser.addoption`` keywords: defaults stay unset (None or []) so that the environment and
    the configuration file can be told apart from a given flag."""
    kwargs: dict[str, Any] = {"dest": option.dest, "help": f"{option.help} [env {option.env}]"}
    if option.kind == "flag":
        kwargs.update(action="store_true", default=None)
    elif option.kind == "list":
        kwargs.update(action="append", default=[], metavar=option.metavar)
    else:
        kwargs.update(default=None, metavar=option.metavar)
    return kwargs


argparse_kwargs = pytest_kwargs  # argparse takes the same keywords


def resolve(flag: str, given: Any, environ: Mapping[str, str] | None = None, lookup: Lookup | None = None) -> Any:
    """An option's value: ``given`` (the command line) when set, else its environment variable,
    else the configuration file (``lookup``), else its default; numbers checked (see :func:`number`)."""
    option = BY_FLAG[flag]
    value = _raw(option, given, os.environ if environ is None else environ, lookup)
    if option.kind in ("int", "float"):
        return number(option, value)
    if value is None and option.kind == "list":
        return []
    return option.default if value is None else value


def _raw(option: Option, given: Any, environ: Mapping[str, str], lookup: Lookup | None) -> Any:
    if given not in (None, [], False):
        return given
    raw = environ.get(option.env)
    if raw is not None and raw != "":
        if option.kind == "list":
            return [part.strip() for part in raw.split(option.env_sep or ",") if part.strip()]
        if option.kind == "flag":
            word = raw.strip().lower()
            if word not in TRUE | FALSE:
                raise RefarchError(f"{option.env}={raw[:40]!r} is not a boolean: set it to 1, true, yes or on to "
                                   f"turn {option.flag} on, or 0, false, no or off (or unset it) to leave it off.")
            return word in TRUE
        return raw
    if lookup is not None:
        configured = lookup(option.name)
        if configured is not None:
            return configured
    return None


def number(option: Option, raw: Any) -> float:
    """A numeric option: finite and within [low, high], else one paragraph naming the option, the
    value and what it must be."""
    if raw is None or raw == "":
        return float(option.default)
    try:
        value = int(raw) if option.kind == "int" else float(raw)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value) or not option.low <= value <= option.high:
        raise RefarchError(f"{option.flag} (or {option.env}) {str(raw)[:40]!r} must be {option.what}.")
    return value


def names(options: Iterable[Option]) -> list[str]:
    return [o.flag for o in options]
