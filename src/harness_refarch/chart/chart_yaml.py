"""The one reader of ``Chart.yaml``: bounded like every chart file, and strict where helm is
(apiVersion, name and version present; dependencies a list of named mappings). Every problem is
one paragraph naming the file and how to fix it."""

from __future__ import annotations

from typing import Any

import yaml

from harness_refarch.helm.binary import bounded
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.manifest import SAFE_LOADER
from harness_refarch.model.yaml_limits import LIMITS_TEXT, YamlLimitError, load_bounded


def parse_chart_yaml(text: bytes, where: str) -> dict[str, Any]:
    """Parse Chart.yaml bytes and require what helm requires (apiVersion, name, version)."""
    try:
        doc = load_bounded(text.decode("utf-8-sig"), SAFE_LOADER)
    except UnicodeDecodeError as exc:
        raise RefarchError(
            f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}). Chart.yaml must be a "
            "UTF-8 YAML file; restore it from version control or re-create it.") from None
    except YamlLimitError as exc:
        raise RefarchError(f"{where} is refused: {exc}. Chart files are bounded to {LIMITS_TEXT}.") from None
    except yaml.YAMLError as exc:
        raise RefarchError(
            f"{where} is not valid YAML: {bounded(str(exc), 10, 5, 300)}. Fix the syntax "
            "(`helm lint` shows the same problem).") from None
    if not isinstance(doc, dict):
        raise RefarchError(
            f"{where} must hold a YAML mapping with apiVersion, name and version, not "
            f"{type(doc).__name__}. Fix the file (see https://helm.sh/docs/topics/charts/).")
    missing = [k for k in ("apiVersion", "name", "version") if not _scalar(doc.get(k))]
    if missing:
        raise RefarchError(
            f"{where} has no usable {', '.join(missing)}. Helm needs apiVersion (v2), name and "
            "version (SemVer) in Chart.yaml; add them and retry.")
    deps = doc.get("dependencies")
    if deps is not None and not (isinstance(deps, list) and all(
            isinstance(d, dict) and isinstance(d.get("name"), str) and d["name"] for d in deps)):
        raise RefarchError(
            f"{where}: `dependencies` must be a list of mappings each with a `name`. Fix the list "
            "(see https://helm.sh/docs/helm/helm_dependency/).")
    return doc


def declared_name(text: bytes) -> str | None:
    """The chart name a Chart.yaml declares, or None when it cannot be read (for listing what a
    ``charts/`` folder provides: a broken subchart is reported where it is rendered)."""
    try:
        name = parse_chart_yaml(text, "Chart.yaml").get("name")
    except RefarchError:
        return None
    return name if isinstance(name, str) else None


def _scalar(value: object) -> bool:
    """A non-empty string or number (YAML may read ``version: 1.0`` as a float); not a bool."""
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip() != ""
