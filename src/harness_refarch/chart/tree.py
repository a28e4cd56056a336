"""The chart tree as helm assembles it (aliases applied, nothing rendered): each chart's values,
templates and dependencies, from a directory or a packaged ``.tgz``, read within the limits of
chart files; and the chart defaults every values stack is coalesced over."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from harness_refarch.chart.chart_yaml import parse_chart_yaml
from harness_refarch.chart.keypaths import string_keys
from harness_refarch.chart.values import coalesce_defaults
from harness_refarch.model import chart_files
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.manifest import SAFE_LOADER, yaml_problem
from harness_refarch.model.trees import copy_tree
from harness_refarch.model.yaml_limits import LIMITS_TEXT, YamlLimitError, load_bounded

# -- chart defaults --------------------------------------------------------------------------------
_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".tpl", ".txt", ".json")


@dataclass(frozen=True)
class ChartNode:
    """One chart of a chart tree, as helm assembles it (aliases applied, nothing rendered)."""

    name: str  # the key of its values in the parent: the alias, else the chart name
    chart_name: str
    library: bool
    values: Mapping[str, Any]
    templates: tuple[tuple[str, str], ...]  # (path inside the chart, text)
    dependencies: tuple[Mapping[str, Any], ...]
    subcharts: tuple[ChartNode, ...]
    where: str  # for messages: a directory or "archive.tgz:chart/"


def _chart_yaml(files: Mapping[str, bytes], name: str, where: str) -> Any:
    data = files.get(name)
    if data is None:
        return None
    try:
        return load_bounded(data.decode("utf-8-sig"), SAFE_LOADER)
    except YamlLimitError as exc:
        raise RefarchError(f"{name} of the chart at {where} is refused: {exc}. Chart files are bounded to "
                           f"{LIMITS_TEXT}.") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        problem = yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else "not UTF-8 text"
        raise RefarchError(f"{name} of the chart at {where} cannot be read: {problem}. Fix that file "
                           "(helm lint reports it too).") from exc


def _read_dir(root: Path) -> dict[str, bytes]:
    """The files of a chart directory that matter for values (not every file of the tree)."""
    files: dict[str, bytes] = {}
    for rel_path, path in chart_files.walk(root):  # symlinked subcharts and templates followed, as helm does
        parts, name = rel_path.parent.parts, rel_path.name
        keep = (name in ("Chart.yaml", "values.yaml", "requirements.yaml")
                or ("templates" in parts and name.endswith(_TEMPLATE_SUFFIXES))
                or (parts and parts[-1] == "charts" and name.endswith((".tgz", ".tar.gz"))))
        if keep:
            try:
                files[rel_path.as_posix()] = path.read_bytes()
            except OSError as exc:
                raise RefarchError(f"Cannot read {path}: {exc.strerror or exc}. Check "
                                   "the chart's file permissions.") from exc
    return files


def _read_tgz(data: bytes, where: str) -> dict[str, bytes]:
    """The files of a packaged chart (``helm package`` output), relative to its top directory."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive.getmembers():
                if not member.isfile():
                    continue
                parts = PurePosixPath(member.name).parts
                if len(parts) < 2:
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    files["/".join(parts[1:])] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RefarchError(f"Packaged chart {where} is not a readable .tgz archive ({exc}). Re-create it "
                           "with 'helm package' or 'helm dependency build'.") from exc
    return files


def _subtree(files: Mapping[str, bytes], prefix: str) -> dict[str, bytes]:
    return {name[len(prefix):]: data for name, data in files.items() if name.startswith(prefix)}


def _chart_from_files(files: Mapping[str, bytes], where: str, alias: str | None = None) -> ChartNode:
    data = files.get("Chart.yaml")
    meta = parse_chart_yaml(data, f"Chart.yaml of the chart at {where}") if data is not None else None
    if not isinstance(meta, dict) or not meta.get("name"):
        raise RefarchError(f"{where} is not a helm chart: no Chart.yaml with a name. Point at the chart "
                           "directory (the one holding Chart.yaml) or a .tgz made by 'helm package'.")
    raw_values = _chart_yaml(files, "values.yaml", where)
    if raw_values is not None and not isinstance(raw_values, dict):
        raise RefarchError(f"values.yaml of the chart at {where} is not a mapping of keys. Fix that file.")
    deps = meta.get("dependencies")
    if deps is None:
        requirements = _chart_yaml(files, "requirements.yaml", where)
        deps = requirements.get("dependencies") if isinstance(requirements, dict) else None
    dependencies = tuple(d for d in (deps or []) if isinstance(d, dict) and d.get("name"))
    templates = tuple(sorted((name, data.decode("utf-8", errors="replace")) for name, data in files.items()
                             if name.startswith("templates/") and name.endswith(_TEMPLATE_SUFFIXES)))
    loaded: list[ChartNode] = []
    seen: set[str] = set()
    for name in sorted(files):
        parts = name.split("/")
        if len(parts) >= 3 and parts[0] == "charts" and parts[2] == "Chart.yaml" and len(parts) == 3:
            if parts[1] not in seen:
                seen.add(parts[1])
                loaded.append(_chart_from_files(_subtree(files, f"charts/{parts[1]}/"),
                                                f"{where}/charts/{parts[1]}"))
        elif len(parts) == 2 and parts[0] == "charts" and name.endswith((".tgz", ".tar.gz")):
            label = f"{where}/{name}"
            loaded.append(_chart_from_files(_read_tgz(files[name], label), label))
    subcharts: list[ChartNode] = []
    for sub in loaded:
        entries = [d for d in dependencies if d.get("name") == sub.chart_name]
        if not entries:
            subcharts.append(sub)
        for entry in entries:
            subcharts.append(_renamed(sub, str(entry.get("alias") or sub.chart_name)))
    return ChartNode(name=alias or str(meta["name"]), chart_name=str(meta["name"]),
                     library=meta.get("type") == "library", values=string_keys(raw_values or {}),
                     templates=templates, dependencies=dependencies, subcharts=tuple(subcharts), where=where)


def _renamed(node: ChartNode, name: str) -> ChartNode:
    if name == node.name:
        return node
    return ChartNode(name=name, chart_name=node.chart_name, library=node.library, values=node.values,
                     templates=node.templates, dependencies=node.dependencies, subcharts=node.subcharts,
                     where=node.where)


def load_chart(chart: Path) -> ChartNode:
    """The chart tree of a chart directory or packaged ``.tgz``: values, templates, subcharts
    (directories and ``.tgz`` under ``charts/``, recursively, aliases applied)."""
    if chart.is_file():
        try:
            data = chart.read_bytes()
        except OSError as exc:
            raise RefarchError(f"Cannot read chart {chart}: {exc.strerror or exc}. Check the path.") from exc
        return _chart_from_files(_read_tgz(data, str(chart)), str(chart))
    if not chart.is_dir():
        raise RefarchError(f"Chart {chart} does not exist. Pass a chart directory or a .tgz made by "
                           "'helm package'.")
    return _chart_from_files(_read_dir(chart), str(chart))


def _effective(node: ChartNode) -> dict[str, Any]:
    values = copy_tree(dict(node.values))
    globals_: dict[str, Any] = values.pop("global", None) or {}
    if not isinstance(globals_, dict):
        globals_ = {}
    for sub in node.subcharts:
        sub_values = _effective(sub)
        sub_globals = sub_values.pop("global", None) or {}
        globals_ = coalesce_defaults(globals_, sub_globals)
        mine = values.get(sub.name)
        if isinstance(mine, dict):
            values[sub.name] = coalesce_defaults(mine, sub_values)
        elif sub.name not in values or mine is None:
            values[sub.name] = sub_values
    if globals_:
        values["global"] = globals_
    return values


def chart_values(chart: Path | ChartNode) -> dict[str, Any]:
    """The chart's effective default values: the umbrella's over its subcharts' (nested under
    their alias or name, recursively), with every chart's ``global`` merged at the top, the
    parent's winning. Dependency conditions are not evaluated: every subchart contributes."""
    node = chart if isinstance(chart, ChartNode) else load_chart(chart)
    return _effective(node)
