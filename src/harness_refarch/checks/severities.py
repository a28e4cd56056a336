"""Severities of the checks, as data, and the threshold that decides which findings fail.

Every check id (the ``check`` of a :class:`~harness_refarch.model.findings.Finding`) has a default
severity, ``error``, ``warning`` or ``info``, and a help text, kept in
``fixtures/severities.yaml``. A check id that file does not name counts as an error.
``--refarch-fail-on LEVEL`` (default ``info``: every finding fails, as before) makes findings
below ``LEVEL`` report without failing: :func:`Gate.split` separates them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import SAFE_LOADER

FILE = "severities.yaml"
LEVELS = ("error", "warning", "info")  # most severe first
RANK = {level: i for i, level in enumerate(LEVELS)}
DEFAULT = "error"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


@dataclass(frozen=True)
class Severities:
    """Check id -> (severity, help text); unknown ids are errors without help."""

    levels: Mapping[str, str] = field(default_factory=dict)
    helps: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def level(self, check: str) -> str:
        return self.levels.get(check, DEFAULT)

    def help(self, check: str) -> str:
        return self.helps.get(check, "")

    def checks(self) -> list[str]:
        return sorted(self.levels)

    def with_defaults(self, defaults: Mapping[str, tuple[str, str]]) -> Severities:
        """These severities plus (severity, help) of check ids they do not name: what a check's
        registration declares (a team's own check; the file, when it names the id, wins)."""
        extra = {k: v for k, v in defaults.items() if k not in self.levels}
        if not extra:
            return self
        return Severities({**self.levels, **{k: level for k, (level, _) in extra.items()}},
                          {**self.helps, **{k: text for k, (_, text) in extra.items()}}, self.source)


def parse(text: str, where: str) -> Severities:
    """The severities of a ``severities.yaml`` text; RefarchError naming the entry when malformed."""
    try:
        doc = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise RefarchError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    checks = doc.get("checks") if isinstance(doc, dict) else None
    if not isinstance(checks, dict):
        raise RefarchError(f"{where} must be a mapping with a 'checks:' mapping of check id to "
                           "{severity: error|warning|info, help: text}.")
    levels: dict[str, str] = {}
    helps: dict[str, str] = {}
    for check, entry in checks.items():
        severity = entry.get("severity") if isinstance(entry, dict) else None
        if severity not in RANK:
            raise RefarchError(f"{where}: check {check!r} has severity {severity!r}; use one of "
                               f"{', '.join(LEVELS)}.")
        levels[str(check)] = str(severity)
        helps[str(check)] = " ".join(str(entry.get("help") or "").split())
    return Severities(levels, helps, where)


@functools.lru_cache(maxsize=8)
def load(fixtures: Path) -> Severities:
    """``<fixtures>/severities.yaml``, else the copy shipped beside the package, else all errors."""
    for path in (fixtures / FILE, _packaged()):
        if path is not None and path.is_file():
            return parse(path.read_text(encoding="utf-8"), str(path))
    return Severities()


def _packaged() -> Path | None:
    package = Path(__file__).resolve().parents[1]  # harness_refarch/: the wheel's data, else the checkout's
    for candidate in (package / "data" / "fixtures" / FILE, package.parents[1] / "fixtures" / FILE):
        if candidate.is_file():
            return candidate
    return None


def threshold(value: str | None) -> str:
    """The ``--refarch-fail-on`` level (default info); RefarchError for anything else."""
    if value is None or value == "":
        return "info"
    word = str(value).strip().lower()
    if word not in RANK:
        raise RefarchError(f"--refarch-fail-on (or REFARCH_FAIL_ON) {str(value)[:40]!r} must be one of "
                           f"{', '.join(LEVELS)}: findings below it are reported without failing.")
    return word


@dataclass(frozen=True)
class Gate:
    """Severities plus the threshold: which findings fail."""

    severities: Severities
    fail_on: str = "info"

    def fails(self, finding: Finding) -> bool:
        return RANK[self.severities.level(finding.check)] <= RANK[self.fail_on]

    def split(self, findings: Iterable[Finding]) -> tuple[list[Finding], list[Finding]]:
        """(findings at or above the threshold, findings below it)."""
        failing: list[Finding] = []
        below: list[Finding] = []
        for f in findings:
            (failing if self.fails(f) else below).append(f)
        return failing, below

    def note(self, below: list[Finding]) -> str:
        """The xfail reason of a test whose findings are all below the threshold."""
        counts: dict[str, int] = {}
        for f in below:
            key = f"{f.check} ({self.severities.level(f.check)})"
            counts[key] = counts.get(key, 0) + 1
        what = ", ".join(f"{n} {key}" for key, n in sorted(counts.items()))
        return f"{len(below)} finding(s) below --refarch-fail-on {self.fail_on}, reported, not failing: {what}"
