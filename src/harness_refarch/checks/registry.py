"""The one list of checks: each check declares itself once, in its own module, with :func:`check`.

A registration says everything the rest of the suite needs to know about a check, so that the
conformance tests (``tests/conformance``: one line per check), ``harness-refarch diff``, the
report and its JUnit ``check`` property, severities and waivers all read this list instead of
keeping their own:

* ``id``: the stable id. The test is ``test_<id>``; reports, ``diff`` and
  ``fixtures/architecture-keys.yaml`` name the check by it.
* ``findings``: the ids its findings carry (``Finding.check``), which waivers and severities match
  (default: the id itself).
* where it applies, as the ``refarch(...)`` marker says it: ``ha``, ``in_cluster``, ``external``,
  ``backup``, ``dr``, ``minimum``, ``previous``, ``figures``, ``first_of_profile`` (True or False);
  ``once_per_architecture``; ``workloads`` ('all', 'stateless' or 'jvm': one test per rendered
  workload of that kind; None: one test per pair);
* ``needs``: helm jobs beyond the pair's render (``standby``, ``repeat``, ``lint``, ``unread``);
* ``diff``: whether ``harness-refarch diff`` compares it (OLD passed, NEW fails);
* ``severity`` and ``help``: defaults for finding ids that ``fixtures/severities.yaml`` does not
  name (the file wins; the shipped checks are all in it);
* the callable. It is called ``fn(pair, manifest, *inputs)`` where the inputs follow from the
  registration, in this order: the DR standby's render (``needs standby``), ``(profile name,
  render)`` of the pair one size down (``previous=True``), what two renders of identical inputs
  change (``needs repeat``: a :class:`~harness_refarch.model.identity.Volatility`; None in
  ``diff``, which renders once), the test's workload id (``workload_arg=True``). With
  ``context=True`` it is called ``fn(ctx, pair, manifest, *inputs)``: ``ctx`` is the run (a
  :class:`Context`: options, values layers, the render store, lint, golden files), passed by
  the engine, so a check needing the session never imports it.

Built-in checks are the modules of this package (found by :func:`load`, no list to keep); a team
adds its own as a Python module registered through the ``harness_refarch.checks`` entry point
group or named with ``--refarch-checks`` / ``REFARCH_CHECKS`` (imported by its dotted name: it
runs code, like any pytest plugin).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pkgutil
import re
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest

if TYPE_CHECKING:
    from harness_refarch.chart.keypaths import KeyPath
    from harness_refarch.chart.values import Layer, Merged
    from harness_refarch.checks.values_keys import Declared

ENTRY_POINT_GROUP = "harness_refarch.checks"
WHERE_KEYS = ("ha", "in_cluster", "external", "backup", "dr", "minimum", "previous", "figures", "first_of_profile")
WORKLOAD_KINDS = ("all", "stateless", "jvm")
NEEDS = ("standby", "repeat", "lint", "unread")
LEVELS = ("error", "warning", "info")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# Modules of this package that declare no check.
_NOT_CHECKS = frozenset({"registry", "severities"})
# Finding ids the engine itself reports inside any check's test (an overlay key the check
# relies on that the chart does not read: harness_refarch.engine.unread.inexpressible).
ENGINE_FINDINGS = ("architecture",)


# -- what a check that needs the run may use ----------------------------------------------------
class ContextOptions(Protocol):
    @property
    def fixtures(self) -> Path: ...

    @property
    def kube_version(self) -> str: ...


class Unread(Protocol):
    @property
    def nothing(self) -> Collection[KeyPath]: ...


class Context(Protocol):
    """The run, as a check registered with ``context=True`` sees it (the engine's session)."""

    @property
    def options(self) -> ContextOptions: ...

    @property
    def backup_evidence(self) -> Any: ...  # checks.backup.Evidence (the registry imports no check)

    @property
    def declared(self) -> Declared: ...

    def merged(self, pair: Pair, standby: bool = False) -> Merged: ...

    def labelled_layers(self, pair: Pair, standby: bool = False) -> list[tuple[Layer, str, str]]: ...

    def unread(self, pair: Pair, standby: bool = False) -> Unread: ...

    def lint(self, pair: Pair, standby: bool = False) -> list[Finding]: ...

    def stored(self, kind: str, pair: Pair, compute: Callable[[], list[Finding]], standby: bool = False,
               extra: str = "") -> list[Finding]: ...

    def stored_file(self, kind: str, path: Path, compute: Callable[[], list[Finding]],
                    extra: str = "") -> list[Finding]: ...

    def golden_findings(self, pair: Pair, manifest: Manifest) -> list[Finding]: ...

    def golden_workload_findings(self, pair: Pair, manifest: Manifest, workload: str) -> list[Finding]: ...

    def golden_problem(self, pair: Pair) -> str: ...


# -- a registration ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Check:
    """One check as the suite knows it (see the module docstring for the fields)."""

    id: str
    fn: Callable[..., list[Finding]]
    findings: tuple[str, ...] = ()
    where: Mapping[str, bool] = field(default_factory=dict)
    workloads: str | None = None
    once_per_architecture: bool = False
    needs: tuple[str, ...] = ()
    diff: bool = False
    context: bool = False
    workload_arg: bool = False
    # A reason the test is skipped when it has nothing else to say (schema: kinds without a schema).
    skip: Callable[[Context, Pair, Manifest], str] | None = None
    # The user property naming a cause shared by every test of the pair (golden: a golden file
    # that cannot be compared), recorded with the pair id and counted apart in the summary; "" if none.
    cause: Callable[[Context, Pair], str] | None = None
    severity: str | None = None
    help: str = ""
    doc: str = ""
    module: str = ""  # the module that registered it

    @property
    def test(self) -> str:
        """The conformance test's name: its id in pytest ids, reports and ``-k``."""
        return f"test_{self.id}"

    @property
    def builtin(self) -> bool:
        """Shipped with the suite (bound in a file of tests/conformance), not a team's own."""
        return self.module.startswith(f"{__package__}.")

    @property
    def per_workload(self) -> bool:
        return self.workloads is not None

    def marker_where(self) -> dict[str, Any]:
        """The ``refarch(...)`` marker's keyword arguments (what ``-m``/``-k`` and the plugin see)."""
        where: dict[str, Any] = dict(self.where)
        if self.workloads not in (None, "all"):
            where["workloads"] = self.workloads
        return where

    def validate(self) -> None:
        """One paragraph naming the check and the field when the registration is malformed."""
        at = f"check {self.id!r} (registered by {self.module or 'an unknown module'})"
        if not _ID.match(self.id):
            raise RefarchError(f"{at}: the id must be lower-case letters, digits and '_', starting with a letter "
                               "(the test is test_<id>).")
        if not callable(self.fn):
            raise RefarchError(f"{at}: the check must be a function returning a list of findings.")
        unknown = sorted(set(self.where) - set(WHERE_KEYS))
        if unknown:
            raise RefarchError(f"{at}: where it applies names {', '.join(unknown)}; use {', '.join(WHERE_KEYS)}"
                               f"{_did_you_mean(unknown[0], WHERE_KEYS)}.")
        if self.workloads is not None and self.workloads not in WORKLOAD_KINDS:
            raise RefarchError(f"{at}: workloads={self.workloads!r}; use one of {', '.join(WORKLOAD_KINDS)}, "
                               "or leave it unset for one test per pair.")
        wrong = sorted(set(self.needs) - set(NEEDS))
        if wrong:
            raise RefarchError(f"{at}: needs {', '.join(wrong)}; use {', '.join(NEEDS)}.")
        if self.severity is not None and self.severity not in LEVELS:
            raise RefarchError(f"{at}: severity {self.severity!r}; use one of {', '.join(LEVELS)}.")
        if self.workload_arg and self.workloads is None:
            raise RefarchError(f"{at}: workload_arg needs workloads= (one test per workload).")
        if self.diff and (self.workload_arg or self.skip is not None or self.cause is not None):
            raise RefarchError(f"{at}: diff compares whole pairs; a check judged per workload, skipping or "
                               "counting a cause apart cannot be compared.")
        if not self.findings or not all(isinstance(f, str) and f for f in self.findings):
            raise RefarchError(f"{at}: findings must name the ids its findings carry (Finding.check).")


F = TypeVar("F", bound=Callable[..., list[Finding]])


class Registry:
    """Checks by id, in registration order (built-ins first, by module name)."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._lock = threading.RLock()
        self._builtin_loaded = False
        self._modules: set[str] = set()

    def add(self, entry: Check) -> Check:
        entry.validate()
        with self._lock:
            known = self._checks.get(entry.id)
            if known is not None and known.module != entry.module:
                raise RefarchError(f"check {entry.id!r} is registered twice: by {known.module} and by "
                                   f"{entry.module}. Give one of them another id (test ids must be unique).")
            self._checks[entry.id] = entry
        return entry

    def get(self, check_id: str) -> Check:
        self.load()
        try:
            return self._checks[check_id]
        except KeyError:
            raise RefarchError(f"No check {check_id!r} is registered{_did_you_mean(check_id, self._checks)}. "
                               "A check registers itself with harness_refarch.checks.registry.check(...) in "
                               "its module.") from None

    def __iter__(self) -> Iterator[Check]:
        self.load()
        return iter(list(self._checks.values()))

    def checks(self) -> list[Check]:
        return list(self)

    def custom(self) -> list[Check]:
        """The checks not shipped with the suite (entry points, --refarch-checks)."""
        return [c for c in self if not c.builtin]

    def compared(self) -> list[Check]:
        """The checks ``harness-refarch diff`` compares."""
        return [c for c in self if c.diff]

    def finding_ids(self) -> set[str]:
        """Every ``Finding.check`` a registered check (or the engine, in its tests) reports."""
        return {f for c in self for f in c.findings} | set(ENGINE_FINDINGS)

    def severities(self) -> dict[str, tuple[str, str]]:
        """Finding id -> (severity, help) that registrations give (checks the data file omits)."""
        out: dict[str, tuple[str, str]] = {}
        for c in self:
            if c.severity is not None:
                for finding_id in c.findings:
                    out.setdefault(finding_id, (c.severity, " ".join(c.help.split())))
        return out

    # -- loading -------------------------------------------------------------------------------
    def load(self, modules: Iterable[str] = (), entry_points: bool = True) -> None:
        """Import the built-in check modules (once), the ``harness_refarch.checks`` entry points
        and ``modules`` (dotted names); a module that cannot be imported is one paragraph."""
        with self._lock:
            if not self._builtin_loaded:
                self._builtin_loaded = True
                package = sys.modules[__package__]
                for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
                    if info.name not in _NOT_CHECKS and not info.name.startswith("_"):
                        importlib.import_module(f"{__package__}.{info.name}")
                if entry_points:
                    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                        self._import(ep.value.split(":", 1)[0], f"entry point {ep.name!r} of group "
                                     f"{ENTRY_POINT_GROUP} ({ep.value})", ep.load)
            for name in modules:
                self._import(name, f"--refarch-checks {name}", functools.partial(importlib.import_module, name))

    def _import(self, name: str, what: str, load: Callable[[], Any]) -> None:
        if name in self._modules:
            return
        before = set(self._checks)
        try:
            load()
        except RefarchError:
            raise
        except ModuleNotFoundError as exc:
            raise RefarchError(f"{what}: module {exc.name or name} cannot be found. A check module is imported by "
                               "its dotted name: install it, or put its directory on PYTHONPATH (e.g. "
                               "PYTHONPATH=policies --refarch-checks team_checks).") from None
        except Exception as exc:  # its own code failed: say where, without a traceback
            raise RefarchError(f"{what}: importing {name} failed: {type(exc).__name__}: {str(exc)[:300]}. "
                               "Fix the module (it is imported like any pytest plugin).") from None
        self._modules.add(name)
        if set(self._checks) == before and not any(c.module == name for c in self._checks.values()):
            raise RefarchError(f"{what}: module {name} registers no check. Declare each check in it with "
                               "@harness_refarch.checks.registry.check('my_id', findings=('my-id',)).")


REGISTRY = Registry()  # the one list: filled as check modules are imported


def check(check_id: str, *, findings: Iterable[str] = (), where: Mapping[str, bool] | None = None,
          workloads: str | None = None, once_per_architecture: bool = False, needs: Iterable[str] = (),
          diff: bool = False, context: bool = False, workload_arg: bool = False,
          skip: Callable[[Context, Pair, Manifest], str] | None = None,
          cause: Callable[[Context, Pair], str] | None = None,
          severity: str | None = None, help: str = "", doc: str = "") -> Callable[[F], F]:
    """Register the decorated function as the check ``check_id`` (see the module docstring).
    The function is returned unchanged: the module and its unit tests call it as before."""
    def register(fn: F) -> F:
        REGISTRY.add(Check(
            id=check_id, fn=fn, findings=tuple(findings) or (check_id,), where=dict(where or {}),
            workloads=workloads, once_per_architecture=once_per_architecture, needs=tuple(needs), diff=diff,
            context=context, workload_arg=workload_arg, skip=skip, cause=cause, severity=severity, help=help,
            doc=" ".join((doc or fn.__doc__ or "").split()), module=fn.__module__))
        return fn
    return register


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
