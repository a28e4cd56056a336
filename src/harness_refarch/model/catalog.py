"""The reference architecture as data: profiles, architectures, databases, golden files.

Everything here is read from ``fixtures/`` (YAML, safe loader) so that the architecture lives
in data a reviewer can read, not in code.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness_refarch.model.errors import RefarchError
from harness_refarch.model.manifest import SAFE_LOADER, yaml_problem
from harness_refarch.model.yaml_limits import LIMITS_TEXT, YamlLimitError, load_bounded

PROFILE_ORDER = ("demo", "small", "medium", "large")


def load_yaml(path: Path, what: str) -> Any:
    """Load one YAML file with the C safe loader, turning every failure into a RefarchError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RefarchError(f"Cannot read {what} {path}: {exc.strerror}. Check the path.") from None
    except UnicodeDecodeError as exc:
        raise RefarchError(f"The {what} {path} is not UTF-8 text (undecodable byte at offset {exc.start}); "
                           "is it a binary file? Pass a YAML file.") from None
    try:
        return load_bounded(text, SAFE_LOADER)
    except YamlLimitError as exc:
        raise RefarchError(f"The {what} {path} is refused: {exc}. Data files are bounded to {LIMITS_TEXT}.") from None
    except yaml.YAMLError as exc:
        raise RefarchError(f"The {what} {path} is not valid YAML ({yaml_problem(exc)}). Fix the "
                           "file (a YAML linter such as yamllint points at the line).") from None


@dataclass(frozen=True)
class Profile:
    """A size profile. ``figures`` is false for a profile file the catalogue has no figures for
    (``override-prod.yaml`` of older releases): it runs the architectures of the catalogue
    profile ``like`` names, with every check that needs no figures."""

    name: str
    users: int | None
    parallel_cd: int | None
    parallel_ci: int | None
    minimum_cpu: float | None = None
    minimum_memory: str | None = None
    figures: bool = True
    like: str | None = None


@dataclass(frozen=True)
class ProfileRule:
    """Which architectures a profile without figures runs: those of profile ``like``, when the
    profile's name matches the glob ``match`` (``without_figures`` in profiles.yaml)."""

    match: str
    like: str

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.match)


@dataclass(frozen=True)
class DatabaseExpectation:
    """How one database is wired in an architecture."""

    name: str  # mongo, postgres, redis, timescaledb (global.database.<name>)
    in_cluster: bool
    # configured external hosts, when not in-cluster: read from the merged values of a render's
    # layers (checks.layering.effective), never from the fixtures alone
    hosts: tuple[str, ...] = ()
    tls: bool = False


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    profiles: tuple[str, ...]
    ha: bool
    backup: bool
    dr: bool
    databases: Mapping[str, DatabaseExpectation]
    overlay: Path
    standby_overlay: Path | None = None
    description: str = ""

    @property
    def external(self) -> bool:
        return any(not db.in_cluster for db in self.databases.values())


@dataclass(frozen=True)
class Pair:
    """One cell of the conformance matrix; its id names the profile so `-k large` works."""

    profile: Profile
    architecture: Architecture

    @property
    def id(self) -> str:
        return f"{self.profile.name}-{self.architecture.name}"


@dataclass
class Catalog:
    root: Path
    profiles: dict[str, Profile]
    architectures: dict[str, Architecture]
    base_layers: tuple[Path, ...] = field(default_factory=tuple)
    rules: tuple[ProfileRule, ...] = ()

    def profiles_of(self, arch: Architecture) -> list[str]:
        """The profiles ``arch`` runs: its own, then each adopted profile without figures that
        is like one of them."""
        return [*arch.profiles, *(p.name for p in self.profiles.values()
                                  if not p.figures and p.like in arch.profiles)]

    def pairs(self, profiles: list[str] | None = None,
              architectures: list[str] | None = None) -> list[Pair]:
        out = []
        for arch in self.architectures.values():
            for pname in self.profiles_of(arch):
                if (profiles and pname not in profiles) or (architectures and arch.name not in architectures):
                    continue
                out.append(Pair(self.profiles[pname], arch))
        return out

    def rule_for(self, name: str) -> ProfileRule | None:
        """The first ``without_figures`` rule matching a profile name the catalogue does not know."""
        return next((r for r in self.rules if r.matches(name)), None)

    def adopt(self, names: Iterable[str], like: Mapping[str, str] | None = None) -> list[str]:
        """Add every name (of a chart's ``override-<name>.yaml``) that is no catalogue profile
        but matches a ``without_figures`` rule (or is given in ``like``, name -> catalogue
        profile, as ``harness-refarch diff --refarch-profile-map`` does), as a profile without
        figures; returns those added."""
        added = []
        for name in sorted(names):
            if name in self.profiles:
                continue
            rule = self.rule_for(name)
            target = rule.like if rule is not None else (like or {}).get(name)
            if target is not None and target in self.profiles and self.profiles[target].figures:
                self.profiles[name] = Profile(name=name, users=None, parallel_cd=None, parallel_ci=None,
                                              figures=False, like=target)
                added.append(name)
        return added

    def golden_path(self, pair: Pair, root: Path | None = None) -> Path:
        """``<root>/<profile>/<architecture>.yaml``; ``root`` is the golden folder (``golden`` in the
        repository's configuration, ``--refarch-golden``), by default ``<fixtures>/golden``."""
        return (root or self.root / "golden") / pair.profile.name / f"{pair.architecture.name}.yaml"


def _mapping(doc: Any, path: Path, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise RefarchError(f"{what} in {path} must be a mapping, not {type(doc).__name__}. Fix the file.")
    return doc


def _entry(doc: Any, path: Path, what: str, required: tuple[str, ...]) -> dict[str, Any]:
    """One profile or architecture: a mapping holding every required key."""
    entry = _mapping(doc, path, what)
    missing = [k for k in required if k not in entry]
    if missing:
        raise RefarchError(f"{what} in {path} lacks {', '.join(missing)}. Add it (see the other "
                           "entries of the file).")
    return entry


def load_catalog(root: Path) -> Catalog:
    """Read ``profiles.yaml`` and ``architectures.yaml`` under ``root``.

    A missing key or a wrong type is one paragraph naming the file and the entry, never a
    ``KeyError`` from the middle of collection.
    """
    try:
        return _load_catalog(root)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RefarchError(f"The reference-architecture data in {root} is malformed: {type(exc).__name__} "
                           f"{exc} while reading profiles.yaml / architectures.yaml. Compare the file with the "
                           "one in the harness-refarch repository (each profile needs users, "
                           "parallel_executions.cd and .ci; each architecture needs profiles and overlay).") from None


def _load_catalog(root: Path) -> Catalog:
    prof_path = root / "profiles.yaml"
    prof_doc = _mapping(load_yaml(prof_path, "profile table"), prof_path, "The profile table")
    profiles = {}
    for name, p in _mapping(prof_doc.get("profiles") or {}, prof_path, "'profiles'").items():
        p = _entry(p, prof_path, f"Profile {name}", ("users", "parallel_executions"))
        minimum = p.get("minimum") or {}
        profiles[name] = Profile(
            name=name, users=int(p["users"]),
            parallel_cd=int(p["parallel_executions"]["cd"]),
            parallel_ci=int(p["parallel_executions"]["ci"]),
            minimum_cpu=float(minimum["cpu"]) if "cpu" in minimum else None,
            minimum_memory=minimum.get("memory"),
        )
    arch_path = root / "architectures.yaml"
    arch_doc = _mapping(load_yaml(arch_path, "architecture catalogue"), arch_path, "The architecture catalogue")
    base = tuple(root / p for p in arch_doc.get("base_layers") or [])
    architectures = {}
    for name, a in _mapping(arch_doc.get("architectures") or {}, arch_path, "'architectures'").items():
        a = _entry(a, arch_path, f"Architecture {name}", ("profiles", "overlay"))
        overlay = root / a["overlay"]
        standby = root / a["standby_overlay"] if a.get("standby_overlay") else None
        dbs = {}
        for db, mode in (a.get("databases") or {}).items():
            in_cluster = mode["mode"] == "in-cluster"
            dbs[db] = DatabaseExpectation(
                name=db, in_cluster=in_cluster,
                tls=bool(mode.get("tls", False)),
            )
        unknown = [p for p in a["profiles"] if p not in profiles]
        if unknown:
            raise RefarchError(f"Architecture {name} in {root / 'architectures.yaml'} names "
                               f"unknown profiles {unknown}; known: {sorted(profiles)}.")
        architectures[name] = Architecture(
            name=name, title=a.get("title", name), profiles=tuple(a["profiles"]),
            ha=bool(a.get("ha")), backup=bool(a.get("backup")), dr=bool(a.get("dr")),
            databases=dbs, overlay=overlay, standby_overlay=standby,
            description=a.get("description", ""),
        )
    rules = []
    for rule in prof_doc.get("without_figures") or []:
        rule = _entry(rule, prof_path, "A rule of 'without_figures'", ("match", "like"))
        if rule["like"] not in profiles:
            raise RefarchError(f"The rule {rule['match']!r} of 'without_figures' in {prof_path} names unknown "
                               f"profile {rule['like']!r}; known: {sorted(profiles)}.")
        rules.append(ProfileRule(str(rule["match"]), str(rule["like"])))
    return Catalog(root=root, profiles=profiles, architectures=architectures, base_layers=base,
                   rules=tuple(rules))
