"""The chart repository's configuration file: its chart, profiles, golden files, waivers, gate.

A chart repository commits its gate once instead of repeating flags in every CI job. The file
is found by :func:`find_config`, searching from the working directory upwards and stopping at the
repository root (the first folder holding ``.git``) or the filesystem root. In each folder:

1. ``.harness-refarch.yaml`` (a flat YAML mapping), else
2. ``pyproject.toml`` holding a ``[tool.harness-refarch]`` table (a ``pyproject.toml`` without
   that table is passed over, and the search goes on upwards).

The first file found is the only one read (files are not merged). Keys are the long names of the
suite's options without ``--refarch-`` (``profile``, ``golden``, ``fail-on``, ...), plus ``chart``
(the chart under test, as ``--chart-path``), ``chart-version``, ``cluster-version`` and
``severity`` (per check or rule id: ``error``, ``warning`` or ``info``). Relative paths in the
file are relative to the folder holding it. A value comes from the first of: the command line,
the ``REFARCH_*`` variable, this file (:func:`lookup`), the default.

When the file names no ``golden`` folder (or no ``waivers`` file), the golden files and waivers
of the repository live in ``refarch/`` beside the file (``refarch/golden/<profile>/<architecture>.yaml``,
``refarch/waivers.yaml``), never in the installed package.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness_refarch.checks.severities import LEVELS, Severities
from harness_refarch.engine.options import OPTIONS, Option
from harness_refarch.model.catalog import load_yaml
from harness_refarch.model.errors import RefarchError

YAML_NAME = ".harness-refarch.yaml"
PYPROJECT = "pyproject.toml"
TABLE = "harness-refarch"  # [tool.harness-refarch]
DEFAULT_FOLDER = "refarch"  # beside the configuration file: golden/ and waivers.yaml
DEFAULT_GOLDEN = f"{DEFAULT_FOLDER}/golden"
DEFAULT_WAIVERS = f"{DEFAULT_FOLDER}/waivers.yaml"

# Kinds of values: str, path (relative to the file's folder), list (of str), paths (list of
# paths), flag (bool), int, float, level (error|warning|info), chart (a path when it exists beside
# the file, else a repo/chart reference), severity (a mapping of check id -> level).
_PATH_METAVARS = frozenset({"FILE", "DIR", "PATH"})


def _kind(option: Option) -> str:
    """The kind of an option's value in the file, from its kind and metavar in the options table."""
    if option.kind == "list":
        return "paths" if option.metavar in _PATH_METAVARS else "list"
    if option.kind == "str":
        return "path" if option.metavar in _PATH_METAVARS else "level" if option.name == "fail-on" else "str"
    return option.kind


# Options that are one run's action, not a repository's setting: named when a file holds them.
ACTIONS = {"update": "--refarch-update", "prune": "--refarch-prune", "baseline-update": "--refarch-baseline-update"}

# Every option of the table but the actions, plus the chart options pytest-helm-charts owns and
# the per-rule severities: a new option is a key of the file without further work.
KEYS: dict[str, str] = {
    "chart": "chart", "chart-version": "str", "cluster-version": "str",
    **{o.name: _kind(o) for o in OPTIONS if o.name not in ACTIONS},
    "severity": "severity",
}

_KIND_TEXT = {
    "str": "a string (quote numbers such as versions: '1.30')",
    "path": "a path (a string; relative paths start at the file's folder)",
    "chart": "a chart directory or .tgz (relative to the file's folder) or a repo/chart reference",
    "list": "a string or a list of strings",
    "paths": "a path or a list of paths (relative paths start at the file's folder)",
    "flag": "true or false",
    "int": "a whole number",
    "float": "a number",
    "level": f"one of {', '.join(LEVELS)}",
    "severity": f"a mapping of check or rule id to {'|'.join(LEVELS)}",
}


@dataclass(frozen=True)
class RepoConfig:
    """One configuration file, validated. ``values`` holds what the file says, paths resolved."""

    path: Path
    base: Path
    values: dict[str, Any] = field(default_factory=dict)

    def lookup(self, name: str) -> Any | None:
        """:func:`lookup` bound to this file: the ``Lookup`` the options table takes."""
        return lookup(self, name)


def find_config(start: Path) -> Path | None:
    """The configuration file that applies in ``start``: see the module docstring for the order."""
    folder = Path(start).expanduser().resolve()
    if not folder.is_dir():
        folder = folder.parent
    for here in (folder, *folder.parents):
        candidate = here / YAML_NAME
        if candidate.is_file():
            return candidate
        pyproject = here / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
        if (here / ".git").exists():  # a folder (clone) or a file (worktree, submodule)
            return None
    return None


def _has_table(pyproject: Path) -> bool:
    """Whether ``pyproject`` holds ``[tool.harness-refarch]``; a file that cannot say so (not
    TOML) is an error only when it mentions the table at all."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if TABLE not in text:
        return False
    return TABLE in _toml(pyproject, text).get("tool", {})


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RefarchError(f"The configuration file {path} is not valid TOML ({exc}). Fix the file; the suite "
                           f"reads its [tool.{TABLE}] table.") from None


def load_config(path: Path) -> RepoConfig:
    """Read and validate one configuration file (``.harness-refarch.yaml`` or a ``pyproject.toml``);
    every problem is one paragraph naming the file, the key and what it must be."""
    path = Path(path).expanduser().resolve()
    if path.name == PYPROJECT or path.suffix == ".toml":
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RefarchError(f"Cannot read the configuration file {path}: {exc}. Check the path.") from None
        tool = _toml(path, text).get("tool", {})
        raw: Any = tool.get(TABLE, {}) if isinstance(tool, dict) else {}
        where = f"the [tool.{TABLE}] table of {path}"
    else:
        raw = load_yaml(path, "configuration file")
        where = f"the configuration file {path}"
        if raw is None:
            raw = {}
    if not isinstance(raw, dict):
        raise RefarchError(f"{where[0].upper()}{where[1:]} must be a mapping of settings (key: value), not a "
                           f"{type(raw).__name__}. Known keys: {', '.join(KEYS)}.")
    base = path.parent
    values: dict[str, Any] = {}
    _unknown(raw, where)
    for key, value in raw.items():
        values[key] = _value(str(key), value, KEYS[key], base, where)
    return RepoConfig(path, base, values)


def _unknown(raw: Mapping[Any, Any], where: str) -> None:
    """Unknown keys: one paragraph naming each (with the closest known key), the file and the keys."""
    bad = [str(k) for k in raw if k not in KEYS]
    if not bad:
        return
    parts = []
    for key in bad:
        name = key.removeprefix("--").removeprefix("refarch-")
        if name in ACTIONS:
            parts.append(f"'{key}' (an action for one run, not a setting: pass {ACTIONS[name]} on the command line)")
            continue
        if name != key and name in KEYS:
            parts.append(f"'{key}' (write it without the prefix: '{name}')")
            continue
        close = difflib.get_close_matches(name, list(KEYS), n=1, cutoff=0.6)
        parts.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    raise RefarchError(f"Unknown key{'s' if len(bad) > 1 else ''} {', '.join(parts)} in {where}. Known keys: "
                       f"{', '.join(KEYS)} (the long names of the --refarch- options without the prefix, plus "
                       "chart, chart-version, cluster-version and severity).")


def _wrong(key: str, value: Any, kind: str, where: str) -> RefarchError:
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return RefarchError(f"'{key}' in {where} is {shown[:60]} ({type(value).__name__}); it must be "
                        f"{_KIND_TEXT[kind]}. Fix the value.")


def _value(key: str, value: Any, kind: str, base: Path, where: str) -> Any:
    """``value`` checked against ``kind``, paths resolved against ``base``."""
    if kind == "flag":
        if not isinstance(value, bool):
            raise _wrong(key, value, kind, where)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(key, value, kind, where)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong(key, value, kind, where)
        return value
    if kind in ("list", "paths"):
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) and v.strip() for v in items):
            raise _wrong(key, value, kind, where)
        return [_path(v, base) for v in items] if kind == "paths" else [str(v) for v in items]
    if kind == "severity":
        return _severity(key, value, where)
    if not isinstance(value, str) or not value.strip():
        raise _wrong(key, value, kind, where)
    if kind == "level":
        word = value.strip().lower()
        if word not in LEVELS:
            raise _wrong(key, value, kind, where)
        return word
    if kind == "path":
        return _path(value, base)
    if kind == "chart":
        resolved = Path(_path(value, base))
        return str(resolved) if resolved.exists() or _looks_local(value) else value
    return value


def _path(value: str, base: Path) -> str:
    """An absolute path: ``~`` expanded, a relative path taken from the file's folder."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _looks_local(value: str) -> bool:
    """A chart spec that can only be a path (``./x``, ``../x``, ``x.tgz``, more than one ``/``)."""
    return value.startswith((".", "~", "/")) or value.endswith(".tgz") or value.count("/") != 1


def _severity(key: str, value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _wrong(key, value, "severity", where)
    out: dict[str, str] = {}
    for check, level in value.items():
        word = level.strip().lower() if isinstance(level, str) else None
        if not isinstance(check, str) or word not in LEVELS:
            raise RefarchError(f"'{key}' in {where}: {check!r} has severity {level!r}; each entry maps a check or "
                               f"rule id to one of {', '.join(LEVELS)}, e.g. 'image-tag-pinned: warning'.")
        out[check] = word
    return out


def lookup(config: RepoConfig | None, name: str) -> Any | None:
    """What the configuration file says for option ``name`` (``profile``, ``--refarch-golden``, ``chart``),
    in the shape the command line gives it (paths absolute, lists as lists), or None.

    With a file, ``golden`` defaults to ``refarch/golden`` beside it and ``waivers`` to
    ``refarch/waivers.yaml`` when that file exists: a repository's golden files and waivers
    never default to the installed package."""
    if config is None:
        return None
    key = name.removeprefix("--").removeprefix("refarch-")
    if key in config.values:
        value = config.values[key]
        return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
    if key == "golden":
        return str(config.base / DEFAULT_GOLDEN)
    if key == "waivers" and (config.base / DEFAULT_WAIVERS).is_file():
        return str(config.base / DEFAULT_WAIVERS)
    return None


def discover(start: Path) -> RepoConfig | None:
    """The configuration that applies in ``start`` (found and validated), or None."""
    path = find_config(start)
    return load_config(path) if path is not None else None


def with_severities(severities: Severities, config: RepoConfig | None, known: Iterable[str] = ()) -> Severities:
    """``severities`` with the file's ``severity`` overrides; an id that no check has is one
    paragraph with the closest known id (``known``: every check and rule id, when given)."""
    overrides = lookup(config, "severity") or {}
    if not overrides or config is None:
        return severities
    ids = sorted({*severities.levels, *known})
    if ids:
        unknown = [c for c in overrides if c not in ids]
        if unknown:
            close = difflib.get_close_matches(unknown[0], ids, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise RefarchError(f"'severity' in {config.path} names unknown check or rule id '{unknown[0]}'{hint}. "
                               f"Known ids: {', '.join(ids)}.")
    return dataclasses.replace(severities, levels={**severities.levels, **overrides},
                               source=f"{severities.source} + {config.path}")


__all__ = ["ACTIONS", "DEFAULT_GOLDEN", "DEFAULT_WAIVERS", "KEYS", "PYPROJECT", "YAML_NAME", "RepoConfig",
           "discover", "find_config", "load_config", "lookup", "with_severities"]
