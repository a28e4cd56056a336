"""Golden expectations: per workload replicas, HPA bounds, requests and limits, storage.

``snapshot`` records them from a render (``--refarch-update``); ``compare`` diffs a render
against the recorded file with deepdiff, workload by workload and field by field, so that a
change to every workload still names every workload. Workloads are keyed by their normalised
identity (helm-generated random name parts removed), so a hook Job called ``migrate-x7k2p``
today and ``migrate-q9z1m`` tomorrow is the same entry.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from harness_refarch.catalog import Pair
from harness_refarch.errors import RefarchError
from harness_refarch.files import write_atomic
from harness_refarch.findings import Finding
from harness_refarch.identity import Volatility, object_identity
from harness_refarch.manifest import SAFE_LOADER, Manifest, yaml_problem

CHECK = "golden"
HINT = "if intended, record it with --refarch-update and review the diff"


@functools.lru_cache(maxsize=65536)
def identity(key: str) -> str:
    """``Kind/name`` with helm-generated random parts of the name normalised away."""
    kind, _, name = key.partition("/")
    return object_identity(kind, name)


def snapshot(manifest: Manifest, volatility: Volatility | None = None) -> dict[str, Any]:
    workloads: dict[str, Any] = {}
    for w in sorted(manifest.workloads.values(), key=lambda w: w.key):
        entry: dict[str, Any] = {"replicas": w.replicas, "stateful": w.stateful,
                                 "jvm": any("MEMORY" in c.env for c in w.main_containers)}
        if w.hpa is not None:
            entry["hpa"] = {"min": w.hpa.spec.get("minReplicas", 1), "max": w.hpa.spec.get("maxReplicas")}
        entry["containers"] = {
            c.name: {section: {k: str(v) for k, v in sorted((c.resources.get(section) or {}).items())}
                     for section in ("requests", "limits")}
            for c in w.containers
        }
        storage = {}
        for vct in w.volume_claim_templates:
            size = (((vct.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
            storage[str((vct.get("metadata") or {}).get("name", ""))] = str(size)
        if storage:
            entry["storage"] = storage
        workloads[volatility.normalise(w.key) if volatility else identity(w.key)] = entry
    return {"workloads": workloads}


def _show(value: Any) -> str:
    """A whole value, never cut mid-value (a mapping is shown as compact YAML flow)."""
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=True, width=10_000).strip()
    return str(value)


def compare_workload(key: str, expected: Any, actual: Any) -> list[Finding]:
    """Field-by-field differences of one workload's golden entry."""
    from deepdiff import DeepDiff  # on first use: an unchanged render never needs it

    out = []
    # threshold_to_diff_deeper=0: report key by key even when two mappings share nothing
    diff = DeepDiff(expected or {}, actual or {}, view="tree", ignore_order=True, threshold_to_diff_deeper=0)
    for change_type, items in diff.items():
        for item in items:
            path = item.path(output_format="list")
            field = ".".join(str(p) for p in path) or "(whole entry)"
            if change_type.endswith("_added"):
                exp, act = "absent", _show(item.t2)
            elif change_type.endswith("_removed"):
                exp, act = _show(item.t1), "absent"
            else:
                exp, act = _show(item.t1), _show(item.t2)
            out.append(Finding(CHECK, key, field, exp, act, HINT))
    return out


def compare(expected: dict[str, Any], actual: dict[str, Any],
            volatility: Volatility | None = None) -> list[Finding]:
    """Every workload recorded but not rendered, rendered but not recorded, and every changed field.

    With ``volatility`` (learned from two renders of identical inputs), recorded keys are
    normalised too, so a golden file written before a name was known to be random still matches.
    """
    norm = volatility.normalise if volatility is not None else (lambda key: key)
    want = {norm(k): v for k, v in (expected.get("workloads") or {}).items()}
    have = {norm(k): v for k, v in (actual.get("workloads") or {}).items()}
    out = []
    for key in sorted(set(want) - set(have)):
        out.append(Finding(CHECK, key, "workload", "rendered (recorded in the golden file)",
                           "not in the render", HINT))
    for key in sorted(set(have) - set(want)):
        out.append(Finding(CHECK, key, "workload", "absent (not in the golden file)", "rendered", HINT))
    for key in sorted(set(want) & set(have)):
        if want[key] != have[key]:  # deepdiff only where something changed
            out += compare_workload(key, want[key], have[key])
    return out


def load(path: Path) -> dict[str, Any] | None:
    """A golden file, or None if there is none; a malformed one is an error naming the file."""
    if not path.is_file():
        return None
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RefarchError(f"The golden file {path} is truncated or malformed ({yaml_problem(exc)}). "
                           "Re-record it with `pytest --refarch-update`, then review the diff.") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("workloads", {}), dict):
        raise RefarchError(f"The golden file {path} does not hold a 'workloads' mapping. Re-record it "
                           "with `pytest --refarch-update`, then review the diff.")
    return doc


def record(path: Path, pair: Pair, snap: dict[str, Any]) -> str:
    """Write ``snap`` as the golden file of ``pair``; say what happened (created, updated, unchanged)."""
    try:
        old = load(path)
    except RefarchError:
        old = {"workloads": {"(malformed file)": {}}}
    if old is not None and old.get("workloads") == snap["workloads"]:
        return "unchanged"
    header = (f"# Golden expectations for profile {pair.profile.name}, architecture "
              f"{pair.architecture.name}.\n# Recorded with --refarch-update; review "
              "every change to this file like code.\n")
    write_atomic(path, header + yaml.safe_dump(snap, sort_keys=True))
    if old is None:
        return "created"
    before, after = old.get("workloads") or {}, snap["workloads"]
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
    return f"updated ({shown})"
